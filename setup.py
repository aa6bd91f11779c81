"""Packaging for azure-messaging-webpubsubservice (this project's implementation)."""

import re
from pathlib import Path

from setuptools import find_namespace_packages, setup

ROOT = Path(__file__).parent
PKG_DIR = "azure-messaging-webpubsubservice"
VERSION = re.search(
    r'^VERSION = "([^"]+)"',
    (ROOT / PKG_DIR / "azure/messaging/webpubsubservice/_version.py").read_text(encoding="utf-8"),
    re.M,
).group(1)

setup(
    name="azure-messaging-webpubsubservice",
    version=VERSION,
    description="Server SDK for Azure Web PubSub, generated from our own OpenAPI spec",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.9",
    package_dir={"": PKG_DIR},
    packages=find_namespace_packages(where=PKG_DIR, include=["azure.messaging.webpubsubservice*"]),
    package_data={"azure.messaging.webpubsubservice": ["py.typed"]},
    install_requires=[
        "azure-core>=1.30.0",
        "pyjwt>=2.6.0",
        "isodate>=0.6.1",
        "typing-extensions>=4.6.0",
    ],
    extras_require={
        "aio": ["aiohttp>=3.9"],
        "identity": ["azure-identity>=1.15"],
        # Event-handler adapters (azure.messaging.webpubsubservice.eventhandler.<adapter>): minimum framework
        # versions only, each tested end to end (the asgi and wsgi adapters need no framework).
        "aiohttp": ["aiohttp>=3.11"],
        "django": ["django>=4.2"],
        "fastapi": ["fastapi>=0.100"],
        "flask": ["flask>=2.2"],
        "starlette": ["starlette>=0.27"],
    },
    classifiers=[
        "Development Status :: 5 - Production/Stable",
        "License :: OSI Approved :: MIT License",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.9",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Typing :: Typed",
    ],
    zip_safe=False,
)
