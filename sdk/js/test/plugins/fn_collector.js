import { Point, collector, onInit, log } from '@sandkit/sdk';

let prefix = '';
collector('fn', { interval: '5s', description: 'a function collector' }, (config) => [
  new Point('fn').tag('p', prefix).int('n', config.int('n', 1)),
  new Point('fn2').float('x', 0.5),
]);
onInit((config) => {
  prefix = config.str('prefix', 'none');
  log.info(`init with ${prefix}`);
});
