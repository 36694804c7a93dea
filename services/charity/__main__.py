"""python -m services.charity"""

from kit.service import run_service
from services.charity.app import build
from services.charity.settings import CharitySettings

if __name__ == "__main__":
    run_service(CharitySettings, build)
