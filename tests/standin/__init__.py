"""The stand-in engine image for tests: build.py builds it, vllm_standin.py is its `vllm`."""
