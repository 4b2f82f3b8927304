"""Model optimization for the edge: quantization (PyTorch dynamic int8, ONNX Runtime int8, GGUF
requantization), pruning and distillation, each measured against its original in one run."""
