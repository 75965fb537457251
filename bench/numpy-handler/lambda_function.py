import numpy as np

def lambda_handler(event, context):
    return {"sum": int(np.arange(10).sum())}
