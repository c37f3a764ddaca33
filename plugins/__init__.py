"""NoneBot plugins: thin matchers that parse an event, call a service in bot/, and answer."""
