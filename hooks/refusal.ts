/** A refusal that is not a plugin's (no config, bad environment): its message goes to the pusher as is. */
export class Refusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Refusal';
  }
}
