// {{name}}: a Sandkit collector. Runs on every tick; returns Points.
import { Point, collector, files } from '@sandkit/sdk';

collector('{{name}}', { interval: '10s' }, () => {
  const [load1, load5, load15] = files.readText('/proc/loadavg').split(' ').slice(0, 3).map(Number);
  return [new Point('{{name}}').float('load1', load1).float('load5', load5).float('load15', load15)];
});
