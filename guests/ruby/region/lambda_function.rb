# The seed's region handler (guests/python/region) in Ruby. The body is
# written with a space after the colon, as Python's json.dumps writes it.
require 'json'

def lambda_handler(event:, context:)
  json_region = ENV['AWS_REGION']
  {
    'statusCode' => 200,
    'headers' => {
      'Content-Type' => 'application/json'
    },
    'body' => JSON.generate({ 'Region ' => json_region }, space: ' ')
  }
end
