"""wampchat: a real-time chat server that is also a small, fast, embeddable WAMP router.

The browser page lives in the repository's ``web/`` and AutobahnJS comes from
npm (``web/node_modules/autobahn-browser``); neither is a Python package. So
that an installed wampchat serves its page with no repository and no npm
around, ``build_py`` below copies the page and the one AutobahnJS file it
loads into the package as ``wampchat/static/``, and names the same files as
its sources so the sdist carries them and a wheel builds from the sdist alone.
"""
import os
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
WEB_DIR = "web"
STATIC_PACKAGE_DIR = os.path.join("wampchat", "static")  # where the page lands in the wheel
# What the page loads from npm (index.html: <script src="node_modules/autobahn-browser/autobahn.min.js">),
# and its licence, which goes along with it.
AUTOBAHN_FILES = ("node_modules/autobahn-browser/autobahn.min.js", "node_modules/autobahn-browser/LICENSE")
# Files in web/ that are not part of the page: npm's bookkeeping and the README's picture.
NOT_THE_PAGE = {"node_modules", "package.json", "package-lock.json", "screenshot.png"}


def page_files(web_dir, require_autobahn=True):
    """Every file the page needs, as paths relative to ``web_dir``.

    This is web/ without npm's files, plus AUTOBAHN_FILES, keeping their
    paths so index.html finds them where it finds them in development.
    Without AutobahnJS (no `npm ci` yet) this stops the build with what to
    do, unless ``require_autobahn`` is false: then it lists what is there.
    """
    if not os.path.isfile(os.path.join(web_dir, "index.html")):
        raise SystemExit(f"error: {web_dir}/index.html is missing, so there is no page to package")
    files = []
    for dirpath, dirnames, filenames in os.walk(web_dir):
        rel_dir = os.path.relpath(dirpath, web_dir)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in NOT_THE_PAGE]
            filenames = [f for f in filenames if f not in NOT_THE_PAGE]
        files += [os.path.normpath(os.path.join(rel_dir, f)) for f in filenames]
    missing = [f for f in AUTOBAHN_FILES if not os.path.isfile(os.path.join(web_dir, f))]
    if missing and require_autobahn:
        raise SystemExit(f"error: {', '.join(os.path.join(web_dir, f) for f in missing)} not found: "
                         "run `make web-deps` (npm ci in web/) before building a wampchat wheel")
    return sorted(files + [f for f in AUTOBAHN_FILES if f not in missing])


class build_py_with_page(build_py):
    """build_py, then copy the page into ``wampchat/static/`` of the build.

    Editable installs skip this (like setuptools' own build_py does): there
    ``wampchat.tap.DEFAULT_WEB`` serves the repository's web/ directly.
    """

    def run(self):
        super().run()
        if self.editable_mode:
            return
        target = os.path.join(self.build_lib, STATIC_PACKAGE_DIR)
        if os.path.isdir(target):
            shutil.rmtree(target)  # a page file deleted since the last build must not linger
        for rel in page_files(os.path.join(HERE, WEB_DIR)):
            dest = os.path.join(target, rel)
            self.mkpath(os.path.dirname(dest))
            self.copy_file(os.path.join(HERE, WEB_DIR, rel), dest)

    def get_source_files(self):
        """Python sources plus the page: sdist includes whatever build_py names here.

        Lenient about AutobahnJS: egg_info asks this for every build, editable
        installs too (`make` installs before `npm ci`); a wheel built from an
        sdist that lacks it stops in run() with what to do.
        """
        page = page_files(os.path.join(HERE, WEB_DIR), require_autobahn=False)
        return super().get_source_files() + [os.path.join(WEB_DIR, rel) for rel in page]

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        if not self.editable_mode:
            target = os.path.join(self.build_lib, STATIC_PACKAGE_DIR)
            outputs += [os.path.join(target, rel) for rel in page_files(os.path.join(HERE, WEB_DIR))]
        return outputs


class sdist_with_page(sdist):
    """sdist, but stop at once with what to do when AutobahnJS is not there to include."""

    def run(self):
        page_files(os.path.join(HERE, WEB_DIR))
        super().run()


setup(
    name="wampchat",
    version="0.1.0",
    description="Real-time chat server and embeddable WAMP router for Twisted",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    # wampchat/amqp/spec holds only the AMQP spec XML (no __init__.py): it is named as a data package of
    # its own, with package_data below, so setuptools neither warns that it "would be ignored" nor drops it.
    packages=find_packages(include=["wampchat", "wampchat.*"]) + ["wampchat.amqp.spec", "twisted.plugins"],
    # Mapping the root explicitly makes setuptools' default ("lenient") editable
    # install put the project directory on sys.path with a .pth file, as the
    # compat mode does, instead of an import hook: Twisted finds plugins only by
    # scanning sys.path for twisted/plugins/ directories, so without this a plain
    # `pip install -e .` hid the wampchat plugin (tests/test_packaging.py checks it).
    package_dir={"": "."},
    package_data={"wampchat": ["py.typed"], "wampchat.amqp.spec": ["*.xml"]},
    include_package_data=True,
    install_requires=[
        "twisted>=23.10",
        "autobahn>=23.1",
        "msgpack>=1.0",
        "cbor2>=5.4",
        "txamqp>=0.8.2",
        "service-identity>=21.1",
        "pyOpenSSL>=22.0",  # amqps:// (twisted.internet.ssl)
        "psycopg[binary]>=3.1",  # --db postgresql://
        "prometheus_client>=0.17",
        "confusables>=1.2", "confusable-homoglyphs>=3.3",  # wampchat.names: UTS #39 confusables and scripts
        "Pillow>=10.0",  # wampchat.files: image sniffing, thumbnails, metadata removal
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-twisted>=1.14", "pytest-timeout", "pika>=1.3", "selenium>=4.10", "build>=1.0",
                 "hypothesis>=6.100", "mypy>=1.10",   # tests/test_types.py
                 # Autobahn|Python's Cryptosign client (tests/test_cryptosign.py): what autobahn[encryption] adds
                 "PyNaCl>=1.5", "base58>=2.1.1", "ecdsa>=0.19.1"],
    },
    entry_points={"console_scripts": ["wampchat-admin = wampchat.admin:main"]},
    cmdclass={"build_py": build_py_with_page, "sdist": sdist_with_page},
    zip_safe=False,
)
