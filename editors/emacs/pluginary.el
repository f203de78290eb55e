;;; pluginary.el --- Scan audio plugins and browse their catalogue -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "27.1") (jsonrpc "1.0.9"))
;; Keywords: multimedia, tools
;; SPDX-License-Identifier: Apache-2.0

;;; Commentary:

;; A client of the Pluginary sidecar (`pluginary serve'), on Emacs's built-in `jsonrpc.el'.
;; Commands: `pluginary-scan', `pluginary-resume', `pluginary-cancel', `pluginary-search',
;; `pluginary-show', `pluginary-status', `pluginary-stop'.  Scan progress goes to the echo area.
;; The protocol is described in protocol/README.md of the Pluginary repository.

;;; Code:

(require 'cl-lib)
(require 'jsonrpc)
(require 'seq)
(require 'subr-x)
(require 'tabulated-list)

(defgroup pluginary nil
  "Audio-plugin catalogue through the Pluginary sidecar."
  :group 'multimedia)

(defcustom pluginary-server-command '("pluginary" "serve")
  "The command that starts the sidecar."
  :type '(repeat string))

(defcustom pluginary-cache-dir nil
  "The cache folder.
nil means $PLUGINARY_CACHE_DIR, else the OS's user cache folder."
  :type '(choice (const nil) directory))

(defcustom pluginary-folders nil
  "Folders every scan searches, besides the standard VST3 folders."
  :type '(repeat directory))

(defcustom pluginary-workers nil
  "Probes at a time; nil means one per core."
  :type '(choice (const nil) natnum))

(defcustom pluginary-timeout-seconds nil
  "Seconds a plugin may take to load; nil means the sidecar's default (30)."
  :type '(choice (const nil) number))

(defcustom pluginary-audio-check t
  "Whether scans make each plugin process a little audio.
That is how the sidecar learns channel counts, latency, audio health and state;
nil makes scans a little faster and leaves those facts unknown."
  :type 'boolean)

(defvar pluginary-progress-functions nil
  "Functions called with each progress value (a plist) of the running scan.")

(defvar pluginary-catalog-changed-hook nil
  "Functions called after each commit of the catalogue.
Each gets the `pluginary/catalogChanged' params, a plist of ids:
:added, :updated and :removed.")

(defvar pluginary--connection nil "The sidecar's `jsonrpc-process-connection'.")
(defvar pluginary--process nil "The sidecar's process.")
(defvar pluginary--scan nil "Plist (:token :callback) of the scan or resume under way.")
(defvar pluginary--next-token 0)

;;;; The connection

(defun pluginary--initialization-options ()
  (let ((options (append (and pluginary-cache-dir
                              (list :cacheDir (expand-file-name pluginary-cache-dir)))
                         (and pluginary-workers (list :workers pluginary-workers))
                         (and pluginary-timeout-seconds
                              (list :timeoutSeconds pluginary-timeout-seconds))
                         ;; Only when off: on is the sidecar's default.
                         (and (not pluginary-audio-check) (list :audioCheck :json-false)))))
    (and options (list :initializationOptions options))))

(defun pluginary--connection ()
  "The running sidecar's connection, starting and initializing it if needed."
  (unless (and pluginary--connection (jsonrpc-running-p pluginary--connection))
    (let ((connection
           (make-instance
            'jsonrpc-process-connection
            :name "pluginary"
            ;; jsonrpc.el expects the stderr buffer to be named "*NAME stderr*".
            :process (lambda ()
                       (setq pluginary--process
                             (make-process :name "pluginary" :command pluginary-server-command
                                           :connection-type 'pipe :coding 'utf-8-emacs-unix
                                           :noquery t
                                           :stderr (get-buffer-create "*pluginary stderr*"))))
            :events-buffer-scrollback-size 200000
            :notification-dispatcher #'pluginary--notification
            :request-dispatcher #'pluginary--request
            :on-shutdown (lambda (_) (setq pluginary--scan nil)))))
      (jsonrpc-request connection :initialize
                       `(:processId ,(emacs-pid)
                         :clientInfo (:name "Emacs" :version ,emacs-version)
                         :capabilities (:window (:workDoneProgress t))
                         ,@(pluginary--initialization-options)))
      (jsonrpc-notify connection :initialized (make-hash-table))
      (setq pluginary--connection connection)))
  pluginary--connection)

(defun pluginary--request (_connection method _params)
  "Answer the sidecar's requests.
Only `window/workDoneProgress/create' is expected."
  (if (eq method 'window/workDoneProgress/create)
      nil
    (jsonrpc-error :code -32601 :message (format "%s is not supported" method))))

(defun pluginary--notification (_connection method params)
  (pcase method
    ('$/progress (pluginary--progress params))
    ('pluginary/catalogChanged (run-hook-with-args 'pluginary-catalog-changed-hook params))
    ('window/showMessage (message "Pluginary: %s" (plist-get params :message)))))

(defun pluginary-request (method &optional params)
  "Send METHOD (a keyword, e.g. :pluginary/query) with PARAMS; wait for its result."
  (jsonrpc-request (pluginary--connection) method params))

(defun pluginary--error-text (error)
  "A sentence about ERROR, a JSON-RPC error plist."
  (pcase (plist-get error :code)
    (-32800 "scan cancelled; nothing is lost.  M-x pluginary-resume finishes it")
    (1001 (let ((owner (plist-get (plist-get error :data) :owner)))
            (format "another scan is running (pid %s on %s)"
                    (plist-get owner :pid) (plist-get owner :host))))
    (1002 "there is no interrupted scan to resume")
    (_ (plist-get error :message))))

(defun pluginary--signal-text (err)
  "The sentence for ERR, a `jsonrpc-error' condition."
  (pluginary--error-text (list :code (alist-get 'jsonrpc-error-code (cdr err))
                               :message (alist-get 'jsonrpc-error-message (cdr err))
                               :data (alist-get 'jsonrpc-error-data (cdr err)))))

;;;; Scans

(defun pluginary--progress (params)
  (when (and pluginary--scan (equal (plist-get params :token) (plist-get pluginary--scan :token)))
    (let* ((value (plist-get params :value))
           (percentage (plist-get value :percentage)))
      (message "Pluginary: %s%s" (if percentage (format "%d%% " percentage) "")
               (or (plist-get value :message) ""))
      (run-hook-with-args 'pluginary-progress-functions value))))

(defun pluginary--summary-text (summary)
  (format "%d bundles found, %d probed in %.1f s: %d ok, %d failed, %d timed out, %d crashed"
          (plist-get summary :discovered) (plist-get summary :probed)
          (/ (plist-get summary :durationMs) 1000.0) (plist-get summary :ok)
          (plist-get summary :failed) (plist-get summary :timedOut) (plist-get summary :crashed)))

(defun pluginary--start-scan (method params callback)
  "Send METHOD with PARAMS and a progress token.
CALLBACK gets (ERROR RESULT) at the end."
  (when pluginary--scan
    (user-error "Pluginary: a scan is already running"))
  (let* ((token (format "pluginary-emacs-%d-%d" (emacs-pid) (cl-incf pluginary--next-token)))
         (scan (list :token token :callback callback))
         (finish (lambda (error result)
                   (when (eq pluginary--scan scan)
                     (setq pluginary--scan nil))
                   (message "Pluginary: %s" (if error (pluginary--error-text error)
                                              (pluginary--summary-text result)))
                   (when callback (funcall callback error result)))))
    (setq pluginary--scan scan)
    (jsonrpc-async-request (pluginary--connection) method
                           (append params (list :workDoneToken token))
                           :success-fn (lambda (result) (funcall finish nil result))
                           :error-fn (lambda (error) (funcall finish error nil))
                           ;; A scan takes as long as it takes; cancel it instead.
                           :timeout nil)
    token))

(defun pluginary-scan (&optional folders only callback)
  "Scan for plugins in the standard folders, `pluginary-folders' and FOLDERS.
With ONLY (interactively, a prefix argument), scan only FOLDERS.  CALLBACK, if
given, is called with (ERROR RESULT) when the scan ends.  Progress goes to the
echo area."
  (interactive (and current-prefix-arg
                    (list (list (read-directory-name "Scan only the folder: ")) t)))
  (let ((all (mapcar (lambda (folder) (directory-file-name (expand-file-name folder)))
                     (append pluginary-folders folders))))
    (pluginary--start-scan :pluginary/scan
                           `(:folders ,(vconcat all)
                             :onlyFolders ,(if (and only all) t :json-false))
                           callback)))

(defun pluginary-resume (&optional callback)
  "Finish an interrupted scan; CALLBACK as in `pluginary-scan'."
  (interactive)
  (pluginary--start-scan :pluginary/resume nil callback))

(defun pluginary-cancel ()
  "Cancel the running scan; it stays resumable."
  (interactive)
  (if (not pluginary--scan)
      (message "Pluginary: no scan is running")
    ;; Cancelled by its progress token: jsonrpc.el's async requests do not expose their ids.
    (jsonrpc-notify (pluginary--connection) :window/workDoneProgress/cancel
                    (list :token (plist-get pluginary--scan :token)))))

;;;; Searching and showing

(defun pluginary--query-params (text)
  "The `pluginary/query' params for TEXT.
Its words ch:N, latency:N (at most N samples) and audio:ok or
audio:failed are filters; the other words are searched for."
  (let (params words)
    (dolist (word (split-string text))
      (let ((case-fold-search t))
        (cond ((string-match "\\`ch:\\([12468]\\)\\'" word)
               (setq params (plist-put params :channels (string-to-number (match-string 1 word)))))
              ((string-match "\\`latency:\\([0-9]+\\)\\'" word)
               (setq params (plist-put params :maxLatency (string-to-number (match-string 1 word)))))
              ((string-match "\\`audio:\\(ok\\|failed\\)\\'" word)
               (setq params (plist-put params :audioOk (if (equal (downcase (match-string 1 word)) "ok")
                                                           t :json-false))))
              (t (push word words)))))
    (if words (append (list :text (string-join (nreverse words) " ")) params) params)))

(defun pluginary--channels-text (channels)
  "CHANNELS, the counts a plugin accepts, as \"2 ch\" or \"1/2 ch\".
nil if they were never checked."
  (cond ((null channels) nil)
        ((seq-empty-p channels) "ch: none")
        (t (concat (mapconcat #'number-to-string channels "/") " ch"))))

(defun pluginary--candidates (text)
  "An alist of (DISPLAY . ID) for the plugins matching TEXT.
TEXT is as in `pluginary-search'."
  (let* ((result (pluginary-request :pluginary/query
                                    (append (pluginary--query-params text) (list :limit 1000))))
         (candidates nil))
    (seq-doseq (plugin (plist-get result :plugins))
      (let* ((latency (plist-get plugin :latencySamples))
             (facts (delq nil (list (plist-get plugin :vendor) (plist-get plugin :category)
                                    (and (not (equal (plist-get plugin :status) "ok"))
                                         (plist-get plugin :status))
                                    (pluginary--channels-text (plist-get plugin :channels))
                                    (and latency (format "latency %d smp" latency))
                                    ;; A plugin that loads but writes NaN or dies in process()
                                    ;; must not look insertable.
                                    (and (eq (plist-get plugin :audioOk) :json-false)
                                         (propertize "AUDIO CHECK FAILED" 'face 'error)))))
             (display (format "%s  (%s)" (plist-get plugin :name) (string-join facts ", "))))
        (when (assoc display candidates)
          (setq display (format "%s [%s]" display (plist-get plugin :id))))
        (push (cons display (plist-get plugin :id)) candidates)))
    (nreverse candidates)))

(defun pluginary--read-plugin (text)
  "Pick one of the plugins matching TEXT with `completing-read'; its id."
  (let ((candidates (pluginary--candidates text)))
    (unless candidates
      (user-error "Pluginary: no plugin matches %S" text))
    (cdr (assoc (completing-read "Plugin: " candidates nil t) candidates))))

;;;###autoload
(defun pluginary-search (text)
  "Search the catalogue for TEXT and show the plugin picked.
TEXT's words must appear in the name, vendor, category or parameter
names; ch:N (channels), latency:N (at most N samples) and audio:ok or
audio:failed filter.  The matches are offered with `completing-read'."
  (interactive "sSearch plugins: ")
  (pluginary-show (pluginary--read-plugin text)))

(defun pluginary--number (value)
  (format "%g" value))

(defconst pluginary--range-problems
  '(("degenerate" . "degenerate (min = max)")
    ("unbounded" . "unbounded")
    ("suspectSteps" . "suspect steps (over 1,000,000)"))
  "What each `rangeProblem' means.")

(defun pluginary--range (parameter)
  "PARAMETER's range as text, flagged when no host can use it."
  (let ((range (pluginary--plain-range parameter))
        (problem (plist-get parameter :rangeProblem)))
    (if (not problem)
        range
      (propertize (string-join
                   (delete "" (list range (concat "⚠ " (or (cdr (assoc problem pluginary--range-problems))
                                                         problem))))
                   " ")
                  'face 'warning))))

(defun pluginary--plain-range (parameter)
  (let ((min (plist-get parameter :min))
        (max (plist-get parameter :max))
        (step (plist-get parameter :step))
        (approximate (plist-get parameter :approximateStep)))
    (cond ((or (equal (plist-get parameter :type) "bool")
               (eq (plist-get parameter :boolean) t))
           "on/off")
          ((not (and min max)) "")
          (t (concat (pluginary--number min) " … " (pluginary--number max)
                     (cond (step (concat " step " (pluginary--number step)))
                           (approximate (format " step ≈%.3g" approximate))))))))

(defun pluginary--values (parameter)
  (let* ((values (mapcar (lambda (value) (format "%s" value)) (plist-get parameter :values)))
         (shown (string-join (seq-take values 12) ", ")))
    (if (or (> (length values) 12) (eq (plist-get parameter :valuesTruncated) t))
        (format "%s, … (%d)" shown (length values))
      shown)))

(defun pluginary--samples (parameter)
  "What PARAMETER displays at raw 0, .25, .5, .75 and 1: \"a | b | c | d | e\"."
  (mapconcat (lambda (sample) (or (plist-get sample :text) "?")) (plist-get parameter :samples) " | "))

(defun pluginary--parameter-entries (record)
  "Tabulated-list entries of RECORD's parameters.
Columns: name, units, range, default, enumeration values, sample texts."
  (mapcar (lambda (p)
            (list (plist-get p :index)
                  (vector (plist-get p :name) (or (plist-get p :units) "") (pluginary--range p)
                          (or (plist-get p :defaultText) "") (pluginary--values p)
                          (pluginary--samples p))))
          (plist-get record :parameters)))

(defun pluginary--audio-check-text (check)
  (let ((peak (plist-get check :peak)))
    (cond ((not (eq (plist-get check :ok) t))
           (propertize (concat "FAILED: " (if (eq (plist-get check :nonFinite) t)
                                              "the output holds NaN or infinity"
                                            (or (plist-get check :error) "no reason given")))
                       'face 'error))
          ((eq (plist-get check :silent) t) "ok, but silent (peak under -120 dBFS)")
          (peak (format "ok, peak %.3g" peak))
          (t "ok"))))

(defun pluginary--state-text (state)
  (let ((size (if-let ((size (plist-get state :size))) (number-to-string size) "?"))
        (reason (plist-get state :error)))
    (if (and (eq (plist-get state :readable) t) (eq (plist-get state :writable) t))
        (format "round-trips (%s bytes)" size)
      (let ((how (if (eq (plist-get state :readable) t)
                     (format "reads (%s bytes) but does not write back" size)
                   "not readable")))
        (if reason (concat how ": " reason) how)))))

(defun pluginary--ready-facts (record)
  "What a host must know before inserting RECORD's plugin, as (LABEL . TEXT).
Facts never measured are left out."
  (let ((channels (plist-get record :channels))
        (latency (plist-get record :latencySamples))
        (check (plist-get record :audioCheck))
        (state (plist-get record :state))
        (spent (when-let ((times (plist-get record :probeMs)))
                 (delq nil (mapcar (lambda (step)
                                     (when-let ((ms (plist-get times step)))
                                       (format "%s %.1f" (substring (symbol-name step) 1) ms)))
                                   '(:load :parameters :audio))))))
    (delq nil
          (list (and channels (cons "Channels" (if (seq-empty-p channels)
                                                   "none accepted"
                                                 (mapconcat #'number-to-string channels ", "))))
                (and latency (cons "Latency" (format "%d samples" latency)))
                (and check (cons "Audio check" (pluginary--audio-check-text check)))
                (and state (cons "State" (pluginary--state-text state)))
                (and spent (cons "Probe ms" (string-join spent ", ")))))))

(defun pluginary--insert-facts (record)
  (let ((facts (pluginary--ready-facts record)))
    (dolist (fact facts)
      (insert (format "%-12s %s\n" (concat (car fact) ":") (cdr fact))))
    (when facts
      (insert "\n"))))

(defun pluginary--exact-path (bytes)
  "BYTES, a unibyte string, as a shell word naming exactly them.
That is $'...' with \xNN for each byte that is not printable ASCII, as
`pluginary show' prints it."
  (concat "$'"
          (mapconcat (lambda (byte)
                       (if (and (<= #x20 byte #x7e) (not (memq byte '(?' ?\\))))
                           (string byte)
                         (format "\\x%02x" byte)))
                     bytes "")
          "'"))

(defun pluginary--path-text (record)
  "RECORD's path for display.
A path that is not UTF-8 (protocol 1.2's `pathBytes' is set) comes with a note
giving its exact bytes: its text shows each undecodable byte as U+FFFD."
  (let ((path (plist-get record :path))
        (bytes (plist-get record :pathBytes)))
    (if (stringp bytes)
        (format "%s (not UTF-8; exactly %s)"
                path (pluginary--exact-path (base64-decode-string bytes)))
      path)))

(defvar-local pluginary-record nil "The plugin record this buffer shows.")

(defun pluginary--print-entry (id cols)
  "Print a parameter row; above the first, `pluginary-record''s facts.
As `tabulated-list-printer', so that sorting, which reprints, keeps them."
  (when (or (bobp) (not (get-text-property (1- (point)) 'tabulated-list-id)))
    (let ((inhibit-read-only t))
      (pluginary--insert-facts pluginary-record)))
  (tabulated-list-print-entry id cols))

(define-derived-mode pluginary-parameters-mode tabulated-list-mode "Pluginary"
  "A plugin's ready-to-insert facts (channels, latency, audio check, state,
probe times), then its parameters: name, units, range, default,
enumeration values and the texts shown at raw 0, .25, .5, .75 and 1."
  (setq tabulated-list-printer #'pluginary--print-entry))

;;;###autoload
(defun pluginary-show (id)
  "Show the plugin ID's ready-to-insert facts and parameters in a tabulated list.
Interactively, pick the plugin from the whole catalogue."
  (interactive (list (pluginary--read-plugin "")))
  (let* ((record (condition-case err
                     (pluginary-request :pluginary/plugin (list :id id))
                   (jsonrpc-error (user-error "Pluginary: %s" (pluginary--signal-text err)))))
         (entries (pluginary--parameter-entries record))
         (width (lambda (column title)
                  (min 40 (+ 1 (apply #'max (length title)
                                 (mapcar (lambda (entry) (string-width (aref (cadr entry) column)))
                                         entries)))))))
    (with-current-buffer (get-buffer-create (format "*Pluginary: %s*" (plist-get record :name)))
      (pluginary-parameters-mode)
      (setq pluginary-record record)
      (setq tabulated-list-format
            (vector (list "Name" (funcall width 0 "Name") t)
                    (list "Units" (funcall width 1 "Units") t)
                    (list "Range" (funcall width 2 "Range") nil)
                    (list "Default" (funcall width 3 "Default") nil)
                    (list "Values" (funcall width 4 "Values") nil)
                    (list "Texts at 0 … 1" 0 nil)))
      (setq tabulated-list-entries entries)
      (tabulated-list-init-header)
      (tabulated-list-print)
      (unless entries                   ; No row printed them.
        (let ((inhibit-read-only t))
          (pluginary--insert-facts record))
        (goto-char (point-min)))
      (pop-to-buffer (current-buffer))
      (message "Pluginary: %s — %s" (plist-get record :name)
               (string-join (delq nil (list (plist-get record :vendor) (plist-get record :category)
                                            (plist-get record :status) (pluginary--path-text record)))
                            ", "))
      (current-buffer))))

(defun pluginary-status ()
  "Show the catalogue's counts and any running or interrupted scan."
  (interactive)
  (let* ((status (pluginary-request :pluginary/status))
         (counts (plist-get status :counts)))
    (message "Pluginary %s: %d plugins in %d bundles%s%s" (plist-get status :version)
             (plist-get counts :plugins) (plist-get counts :bundles)
             (if (plist-get status :running) "; a scan is running" "")
             (if (plist-get status :interrupted) "; an interrupted scan can be resumed" ""))
    status))

(defun pluginary-stop ()
  "Stop the sidecar (shutdown, then exit); its exit status."
  (interactive)
  (when-let ((connection pluginary--connection))
    (setq pluginary--connection nil pluginary--scan nil)
    (let ((process pluginary--process))
      (ignore-errors
        (jsonrpc-request connection :shutdown nil)
        (jsonrpc-notify connection :exit nil))
      (with-timeout (5 (delete-process process))
        (while (process-live-p process)
          (accept-process-output process 0.05)))
      (jsonrpc-shutdown connection t)
      (process-exit-status process))))

(add-hook 'kill-emacs-hook #'pluginary-stop)

(provide 'pluginary)
;;; pluginary.el ends here
