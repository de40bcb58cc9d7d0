import { Point, collector, emit } from '@sandkit/sdk';

collector(
  'cls',
  class Counter {
    constructor(config) {
      this.step = config.int('step', 1);
      this.n = 0;
    }
    collect() {
      this.n += this.step;
      for (let i = 0; i < 300; i++) emit(new Point('many').int('i', i));
      return new Point('cls').int('n', this.n);
    }
  },
);
