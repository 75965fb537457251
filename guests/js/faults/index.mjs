// faults: one handler per failure mode the host must contain, for the
// end-to-end tests (tests/e2e/languages.rs). The event {"fail": MODE}:
//
//   error         throws CustomError("the event asked for an error")
//   oom           allocates 1 MiB arrays until the interpreter runs out of memory
//   timeout       spins forever
//   oversize      a 7 MiB string (over Lambda's 6 MB response limit)
//   invalid_json  a BigInt, which JSON.stringify cannot encode
//
// JavaScript has no way to trap: a `throw` is always a function error.
// Any other event is answered with itself, so a test can show the next event
// succeeds.

class CustomError extends Error {
  constructor(message) {
    super(message);
    this.name = "CustomError";
  }
}

const MIB = 1024 * 1024;

export const handler = async (event) => {
  switch (event?.fail) {
    case "error":
      throw new CustomError("the event asked for an error");
    case "oom": {
      // A local array: the exception frees it, and the next event has room.
      const held = [];
      for (;;) held.push(new Uint8Array(MIB).fill(1));
    }
    case "timeout":
      for (;;) {}
    case "oversize":
      return "a".repeat(7 * MIB);
    case "invalid_json":
      return 10n;
    default:
      return event;
  }
};
