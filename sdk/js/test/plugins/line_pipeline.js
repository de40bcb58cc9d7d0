import { pipeline } from '@sandkit/sdk';

pipeline('lines', (line, out) => {
  if (line === 'boom') throw new TypeError('no boom allowed');
  if (line.startsWith('#')) return;
  const at = line.indexOf('=');
  out.record().tagSpan('k', 0, at).textSpan('v', at + 1).keepMessage();
});
