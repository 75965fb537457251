// The seed's Python `region` handler (guests/python/region), ported to Node.js.
// The body is byte-identical to Python's json.dumps, as the other ports'
// are: ", " and ": " separators and non-ASCII escaped as \uXXXX.
const pythonJsonDumps = (object) =>
  `{${Object.entries(object)
    .map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value)}`)
    .join(", ")}}`.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

export const handler = async (event, context) => {
  const region = process.env.AWS_REGION;
  return {
    statusCode: 200,
    headers: {
      "Content-Type": "application/json",
    },
    body: pythonJsonDumps({ "Region ": region }),
  };
};
