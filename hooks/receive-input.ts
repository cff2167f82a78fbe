import type { HookUpdate, RefType, UpdateKind } from './hook-plugin.js';

/** One `<old> SP <new> SP <ref>` line; sha1 or sha256 object names. */
const LINE = /^([0-9a-f]{40}|[0-9a-f]{64}) ([0-9a-f]{40}|[0-9a-f]{64}) (refs\/\S+)$/;
const ZERO = /^0+$/;

/**
 * Parses what git writes to pre-receive and post-receive on stdin
 * (https://git-scm.com/docs/githooks#pre-receive): one update per line. Any malformed line throws:
 * the dispatcher refuses a push it cannot read rather than skip a ref.
 */
export function parseReceiveInput(text: string): HookUpdate[] {
  const out: HookUpdate[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line !== '') out.push(parseReceiveLine(line));
  }
  return out;
}

/** Parses one non-empty line of receive hook input; throws when it is malformed. */
export function parseReceiveLine(line: string): HookUpdate {
  const m = LINE.exec(line);
  if (!m) throw new Error(`malformed hook input line: ${JSON.stringify(line.slice(0, 200))}`);
  return describeUpdate(m[1] as string, m[2] as string, m[3] as string);
}

/** Classifies one update: create / update / delete, branch / tag / other, and its short name. */
export function describeUpdate(oldSha: string, newSha: string, ref: string): HookUpdate {
  const kind: UpdateKind = ZERO.test(oldSha) ? 'create' : ZERO.test(newSha) ? 'delete' : 'update';
  let refType: RefType = 'other';
  let name = ref;
  if (ref.startsWith('refs/heads/')) {
    refType = 'branch';
    name = ref.slice('refs/heads/'.length);
  } else if (ref.startsWith('refs/tags/')) {
    refType = 'tag';
    name = ref.slice('refs/tags/'.length);
  }
  return { oldSha, newSha, ref, kind, refType, name };
}
