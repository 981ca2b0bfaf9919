"""One epoch of many small models at once, on the CPU or CUDA.

    data.py          the data sets on a device: subsets per seed and fraction, label noise, digits
    model.py         the model families (CNN, MLP) as stacked weights, their forward pass
    train.py         the training loop over a stack of models (CUDA graphs where they pay)
    optim.py         Adam over stacked weights
    evaluation.py    validation loss and accuracy of a stack on the full test set
    weights.py       a model's weights as bytes and back (pre-training runs)
    devices.py       which device, its name, precision and autocast
    native.c         the CPU kernels: convolutions, dropout, Adam
    native_build.py  building native.c for this processor's instruction set, cached
    native.py        the kernels as torch ops, and the switch that says where they run
    cpu_check.py     the timing check that decides kernels or PyTorch ops on this CPU
    cpu_timing.py    the timing harness that check runs (the real training step)
"""
