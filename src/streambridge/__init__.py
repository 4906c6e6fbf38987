"""streambridge."""
