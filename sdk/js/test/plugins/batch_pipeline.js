import { pipeline } from '@sandkit/sdk';

pipeline(
  'batchwise',
  class {
    constructor(config) {
      this.tag = config.str('tag', 'n');
    }
    process(batch, out) {
      for (let i = batch.length - 1; i >= 0; i--) {
        out.setLine(i);
        out.record().tag(this.tag, String(i)).textSpan('word', 0, out.line.indexOf(' ') < 0 ? undefined : out.line.indexOf(' '));
      }
    }
  },
);
