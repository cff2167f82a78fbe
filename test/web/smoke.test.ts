import { test } from 'node:test';
import { get, haveCgit, startWebFixture } from './fixture.js';

test('smoke', async (t) => {
  if (!haveCgit(t)) return;
  const { gw } = await startWebFixture(t);
  for (const [u, user] of [['/', undefined], ['/', 'ann'], ['/pub/site.git', undefined], ['/pub/site.git/tree/src/greet.py', undefined], ['/team/secret.git/', 'ben'], ['/?login', undefined], ['/?login', 'ann']] as const) {
    const p = await get(gw, u, user as 'ann' | undefined, { referer: 'http://x/pub/site.git/' });
    console.log(u, user, p.status, JSON.stringify(p.headers).slice(0, 300), p.body.slice(0, 3000));
  }
  console.log(JSON.stringify(gw.logs.lines.filter((l) => String(l.message ?? l.event ?? '').includes('backend')).slice(0, 10)));
  console.log(JSON.stringify(gw.audit.records.slice(0, 3)));
});
