import type { TestContext } from 'node:test';
import { startGitward, type TestGitward } from '../helpers/server.js';
import { apiRequest, type ApiAnswer, type ApiRequest } from './api-client.js';

export const PASSWORDS = { ann: 'ann-pw', ben: 'ben-pw', carl: 'carl-pw', dave: 'dave-pw' };
export type User = keyof typeof PASSWORDS;
const API = '/_gitward/api/v1';

/**
 * ann administers team/, carl reads it; ben may create repos under ci/ and push to them; dave has
 * nothing; team/fixed.git is named in the config (and exists on disk).
 */
export async function apiServer(t: TestContext, extra: Record<string, unknown> = {}): Promise<TestGitward> {
  return startGitward(t, {
    users: PASSWORDS,
    repos: ['team/fixed', 'team/old'],
    config: {
      repos: {
        team: { '.admin': ['ann'], '.read': ['carl'], 'fixed.git': null },
        ci: { '.create': ['ben'], '.write': ['ben'] },
      },
      ...extra,
    },
  });
}

/** Calls the API as `user` (or anonymously). */
export function caller(
  gw: TestGitward,
): (method: string, p: string, user: User | null, req?: ApiRequest) => Promise<ApiAnswer> {
  return (method, p, user, req = {}) =>
    apiRequest(gw.origin, method, `${API}${p}`, {
      ...req,
      ...(user !== null ? { user: { user, password: PASSWORDS[user] } } : {}),
    });
}
