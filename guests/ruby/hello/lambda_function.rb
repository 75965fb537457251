# The seed's hello handler (guests/python/hello) in Ruby.
def lambda_handler(event:, context:)
  message = "Hello #{event['first_name']} #{event['last_name']}!"
  {
    'message' => message
  }
end
