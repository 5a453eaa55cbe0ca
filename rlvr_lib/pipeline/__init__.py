"""The machinery: the main job, the cached notebook runner and the helpers of the book's own pages."""
