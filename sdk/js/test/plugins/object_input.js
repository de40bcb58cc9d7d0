import { Point, input } from '@sandkit/sdk';

input('obj', {
  init(config) {
    this.measurement = config.str('measurement', 'body');
  },
  handle(contentType, body) {
    return [new Point(this.measurement).tag('ct', contentType).int('bytes', body.length)];
  },
});
