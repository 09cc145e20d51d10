"""The widgets. Each family has its own module; none of them writes SQL."""
