; Inno Setup script: wraps the PyInstaller folder dist\Ponder into one installer .exe with a
; Start-menu shortcut, an optional desktop shortcut and an uninstaller. Compiled by
; installer\build-windows.ps1, which passes the version and the llama.cpp backend:
;   iscc /DAppVersion=0.1.0 /DBackend=cpu installer\windows\ponder.iss

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef Backend
  #define Backend "cpu"
#endif
#define Root "..\.."

[Setup]
AppId={{6F1D2A9E-4C0B-4E57-9A43-0D6B7F3C5E21}
AppName=Ponder
AppVersion={#AppVersion}
AppPublisher=Ponder
AppComments=Private, offline chat with reasoning models, on llama.cpp
DefaultDirName={autopf}\Ponder
DefaultGroupName=Ponder
DisableProgramGroupPage=yes
; per-user by default (no administrator needed); the dialog lets a person choose all users
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#Root}\dist
OutputBaseFilename=Ponder-{#AppVersion}-windows-x64-{#Backend}-setup
SetupIconFile={#Root}\resources\icons\ponder.ico
UninstallDisplayIcon={app}\ponder.exe
LicenseFile={#Root}\installer\windows\LICENSE.txt
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#Root}\dist\Ponder\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Ponder"; Filename: "{app}\ponder.exe"
Name: "{group}\Uninstall Ponder"; Filename: "{uninstallexe}"
Name: "{autodesktop}\Ponder"; Filename: "{app}\ponder.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\ponder.exe"; Description: "{cm:LaunchProgram,Ponder}"; Flags: nowait postinstall skipifsilent

; Models and conversations live in the user's data folder, not in {app}: uninstalling keeps
; them (a person may reinstall); the uninstaller says where they are.
[Messages]
UninstalledAll=Ponder was removed. Your models and conversations are still in %LOCALAPPDATA%\Ponder; delete that folder to remove them too.
