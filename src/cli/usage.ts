// The help text, apart from the commands so `chorus --help` loads nothing else.
import { AUDIO_FORMATS } from '../audio/encoders/audio-encoder.js';

export const MODELS_USAGE = `  chorus models list [--json]               the catalogue and the installed models (size, licence, languages)
  chorus models pull NAME [--force] [--quiet] [--source archive|huggingface]
                                            download, verify and install a catalogue model (resumes)
  chorus models import PATH [--name NAME] [--family kokoro|piper|kitten|pocket] [--force] [--quiet]
                                            install from a local .tar.bz2/.tar.gz/.tgz or a directory
  chorus models rm NAME                     uninstall a model
`;


export const USAGE = `Usage:
  chorus serve [--port N] [--host H] [--role all|api|worker]
                                            start the HTTP server (settings from the environment)
  chorus say [TEXT] [options]               speak TEXT (or standard input) to a file or stdout
      -v, --voice NAME        voice name (default: default; see 'chorus voices')
      -f, --format FORMAT     ${AUDIO_FORMATS.join(' | ')} (default: from --output's extension, else wav)
      -o, --output FILE       write here instead of stdout
      -s, --speed X           0.25 to 4 (default 1)
      -p, --pitch SEMITONES   -12 to 12 (default 0)
      -r, --sample-rate HZ    8000 to 48000 (default 24000)
      -l, --language CODE     eSpeak language (default: the voice's, or detected from the script)
          --gap SECONDS       silence between sentences
          --timings           print word timings as JSON lines on stderr
          --no-watermark      leave out the inaudible watermark
  chorus voices [--json]                    list the built-in voices
${MODELS_USAGE}  chorus webhook-secret                     print the secret that signs webhooks (generated on first use)
  chorus watermark detect FILE [--json]     does FILE (WAV, MP3, FLAC, Ogg) carry Chorus's watermark?
                                            exit 0 whether or not it does; 2 if FILE is unreadable or not usable audio
`;

