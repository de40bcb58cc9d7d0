// {{name}}: a Sandkit log pipeline. Writes the records of one line with out.record().
import { pipeline, type Records } from '@sandkit/sdk';

pipeline('{{name}}', (line: string, out: Records): void => {
  const space = line.indexOf(' ');
  const level = space < 0 ? line : line.slice(0, space);
  const rest = space < 0 ? '' : line.slice(space + 1);
  out.record().tag('level', level.toLowerCase()).text('msg', rest);
});
