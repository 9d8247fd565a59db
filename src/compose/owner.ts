// What owns the resources a factory builds (the App): each is closed in reverse order after the drain.
export interface Owner {
  own<T>(name: string, resource: T, close: (r: T) => Promise<void> | void): T;
}

/** An owner for a command without an App: closes what it owns in reverse order, every step even if one fails. */
export class Resources implements Owner {
  private readonly closers: (() => Promise<void> | void)[] = [];

  own<T>(_name: string, resource: T, close: (r: T) => Promise<void> | void): T {
    this.closers.push(() => close(resource));
    return resource;
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const close of this.closers.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}
