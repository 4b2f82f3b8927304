"""The learned router: from a prompt's MiniLM embedding, before anything is generated, whether the edge's
answer will be as good as the cloud's. Trained on paired labels (`quality`, `train`), stored as plain
arrays (`artifact`), judged with RouteLLM's metrics (`report`); and trained federated across edge sites
with DP-SGD (`federated`, `experiment`)."""
