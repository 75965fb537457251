// The seed's Python `increment` handler (guests/python/increment), ported to
// Node.js: console.info and console.error stand for the logger's calls.
export const handler = async (event, context) => {
  let result = null;
  const action = event.action;
  if (action === "increment") {
    result = (event.number ?? 0) + 1;
    console.info("Calculated result of %s", result);
  } else {
    console.error("%s is not a valid action.", action);
  }
  return { result };
};
