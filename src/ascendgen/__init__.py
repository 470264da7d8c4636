"""ascendgen: plan, write and run vLLM deployments on Huawei Ascend NPUs."""

__version__ = "0.1.0"

__all__ = ["__version__"]
