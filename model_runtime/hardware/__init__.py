"""What this machine offers a model: CPU, memory, GPUs, checked safely in a child process."""
