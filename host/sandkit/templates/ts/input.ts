// {{name}}: a Sandkit input. Turns each body posted to /v1/input/{{name}} into Points.
import { Point, input } from '@sandkit/sdk';

input('{{name}}', (contentType: string, body: Uint8Array): Point[] => [
  new Point('{{name}}').tag('content_type', contentType || 'none').int('bytes', body.length),
]);
