"""python -m services.web"""

from kit.service import run_service
from services.web.app import build
from services.web.settings import WebSettings

if __name__ == "__main__":
    run_service(WebSettings, build)
