"""wampchat: a real-time chat server that is also a small, fast, embeddable WAMP router."""
from setuptools import setup, find_packages

setup(
    name="wampchat",
    version="0.1.0",
    description="Real-time chat server and embeddable WAMP router for Twisted",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["wampchat", "wampchat.*"]) + ["twisted.plugins"],
    package_data={"wampchat": ["py.typed"], "wampchat.amqp": ["spec/*.xml"]},
    include_package_data=True,
    install_requires=[
        "twisted>=23.10",
        "autobahn>=23.1",
        "msgpack>=1.0",
        "cbor2>=5.4",
        "txamqp>=0.8.2",
        "service-identity>=21.1",
        "pyOpenSSL>=22.0",  # amqps:// (twisted.internet.ssl)
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-twisted>=1.14", "pytest-timeout", "pika>=1.3", "selenium>=4.10",
                 "hypothesis>=6.100"],
    },
    entry_points={"console_scripts": ["wampchat-admin = wampchat.admin:main"]},
    zip_safe=False,
)
