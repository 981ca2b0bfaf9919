"""Workers that train the queue's stacks and write every result to the store.

    stacks.py   what both workers share: training a stack safely, pre-training, progress
    jobs.py     the local worker process (`scaling worker`, the app's background worker)
    cluster.py  the Ray worker: stacks as Ray tasks, results written by the driver
"""
