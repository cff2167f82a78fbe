/** Placeholder until the hooks issue lands. */
export function createBranchProtectPlugin(): never {
  throw new Error('hooks/branch-protect plugin is not implemented yet');
}
