"""Where a dataset folder keeps its parts: the one place the writer and the readers name them.

  DATA/{train,val,test}/clips-SSSSS-of-NNNNN.tfrecord.gz   word clips (schemas.clip)
  DATA/transform_fn/                                       tf.Transform graph and statistics
  DATA/sentences/{train,val,test}/clips-*.tfrecord.gz      sentence clips (--unit sentence)
"""

CLIPS_PREFIX = "clips"
CLIP_FILE_PATTERN = f"{CLIPS_PREFIX}-*.tfrecord.gz"
TRANSFORM_DIR = "transform_fn"
SENTENCES_DIR = "sentences"
