# The seed's increment handler (guests/python/increment) in Ruby.
require 'logger'

LOGGER = Logger.new($stdout)
LOGGER.level = Logger::INFO

def lambda_handler(event:, context:)
  result = nil
  action = event['action']
  if action == 'increment'
    result = event.fetch('number', 0) + 1
    LOGGER.info("Calculated result of #{result}")
  else
    LOGGER.error("#{action} is not a valid action.")
  end

  { 'result' => result }
end
