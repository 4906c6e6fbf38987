"""Chat rooms: DynamoDB Streams -> AppSync Events channels /rooms/{roomId}."""
