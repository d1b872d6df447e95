"""AWS glue: Lambda event shapes, the Lambda job dispatcher, secrets by name, the artifact build."""
