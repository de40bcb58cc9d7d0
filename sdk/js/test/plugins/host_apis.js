import { FileError, HttpError, Point, collector, files, http, state, system } from '@sandkit/sdk';

collector('apis', () => {
  const total = state.getJson('total', 0) + 1;
  state.setJson('total', total);
  const out = [new Point('apis').int('total', total).text('host', system.hostname())];
  out.push(new Point('fs').uint('free', system.statfs('/').free));
  for (const path of ['/etc/a.conf', '/missing']) {
    try {
      out.push(new Point('file').text('path', path).int('bytes', files.read(path).length).text('text', files.readText(path)));
    } catch (e) {
      if (!(e instanceof FileError)) throw e;
      out.push(new Point('file').text('path', path).text('error', e.message));
    }
  }
  out.push(new Point('dir').text('names', files.listDir('/etc').join(',')));
  for (const url of ['http://ok/', 'http://too-big/']) {
    try {
      const r = http.get(url, { headers: { 'x-a': 'b' } });
      out.push(new Point('http').int('status', r.status).text('body', r.text).text('type', r.header('Content-Type') ?? ''));
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      out.push(new Point('http').text('kind', e.kind).text('detail', e.detail));
    }
  }
  return out;
});
