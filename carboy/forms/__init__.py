"""carboy.forms: HTML forms from pydantic models, model forms, uploads and storage.

Example:
    >>> from pydantic import BaseModel, EmailStr
    >>> from carboy.forms import Form
    >>> class Contact(BaseModel):
    ...     name: str
    ...     email: EmailStr
    >>> form = Form[Contact]({"name": "Ada", "email": "not an address"})
    >>> form.is_valid, list(form.errors)
    (False, ['email'])
"""

from carboy.forms._fields import Choice as Choice
from carboy.forms._form import FORM_ERRORS as FORM_ERRORS
from carboy.forms._form import BaseForm as BaseForm
from carboy.forms._form import BoundField as BoundField
from carboy.forms._form import Fieldset as Fieldset
from carboy.forms._form import Form as Form
from carboy.forms._formsets import FormSet as FormSet
from carboy.forms._model import ModelForm as ModelForm
from carboy.forms._model import model_form as model_form
from carboy.forms._module import Forms as Forms
from carboy.forms._storage import FileSystemStorage as FileSystemStorage
from carboy.forms._storage import Storage as Storage
from carboy.forms._storage import UnsafeFileName as UnsafeFileName
from carboy.forms._uploads import Upload as Upload
from carboy.forms._uploads import UploadedFile as UploadedFile
from carboy.forms._uploads import UploadedImage as UploadedImage
from carboy.forms._uploads import UploadError as UploadError
from carboy.forms._uploads import safe_filename as safe_filename
from carboy.forms._widgets import Checkbox as Checkbox
from carboy.forms._widgets import CheckboxSelectMultiple as CheckboxSelectMultiple
from carboy.forms._widgets import FileInput as FileInput
from carboy.forms._widgets import HiddenInput as HiddenInput
from carboy.forms._widgets import PasswordInput as PasswordInput
from carboy.forms._widgets import RadioSelect as RadioSelect
from carboy.forms._widgets import Select as Select
from carboy.forms._widgets import SelectMultiple as SelectMultiple
from carboy.forms._widgets import Textarea as Textarea
from carboy.forms._widgets import TextInput as TextInput
from carboy.forms._widgets import Widget as Widget

__all__ = [
    "FORM_ERRORS",
    "BaseForm",
    "BoundField",
    "Checkbox",
    "CheckboxSelectMultiple",
    "Choice",
    "Fieldset",
    "FileInput",
    "FileSystemStorage",
    "Form",
    "FormSet",
    "Forms",
    "HiddenInput",
    "ModelForm",
    "PasswordInput",
    "RadioSelect",
    "Select",
    "SelectMultiple",
    "Storage",
    "TextInput",
    "Textarea",
    "UnsafeFileName",
    "Upload",
    "UploadError",
    "UploadedFile",
    "UploadedImage",
    "Widget",
    "model_form",
    "safe_filename",
]
