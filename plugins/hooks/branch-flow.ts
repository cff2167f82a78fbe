/** Placeholder until the hooks issue lands. */
export function createBranchFlowPlugin(): never {
  throw new Error('hooks/branch-flow plugin is not implemented yet');
}
