// The seed's Python `hello` handler (guests/python/hello), ported to Node.js.
export const handler = async (event) => {
  const message = `Hello ${event.first_name} ${event.last_name}!`;
  return { message };
};
