"""Quality routing: deciding edge or cloud by the answer quality each tier is expected to give. One home
for what the gateway's cascade and router policies, `eval`, `train`, `calibrate` and the simulator share:
labels from paired runs of both tiers, the confidence signals, the learned router, the quality/cloud-share
curves with RouteLLM's metrics (APGR, CPT), and threshold calibration. The policies stay thin adapters."""
