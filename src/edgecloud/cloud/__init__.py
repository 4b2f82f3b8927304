"""The cloud tier on Ray: the node's OpenAI app as a Ray Serve deployment with replicas, and big-data
jobs (text mining, knowledge-graph construction) streamed through Ray Data, local or on a cluster."""
