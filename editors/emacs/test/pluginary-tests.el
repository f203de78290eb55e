;;; pluginary-tests.el --- ERT tests of pluginary.el against the real sidecar -*- lexical-binding: t; -*-

;;; Commentary:

;; emacs --batch -Q -L editors/emacs -l editors/emacs/test/pluginary-tests.el \
;;       -f ert-run-tests-batch-and-exit
;; Environment: PLUGINARY_TEST_COMMAND (the sidecar's command, a JSON array),
;; PLUGINARY_TEST_PLUGINS (the real plugin folder), PLUGINARY_TEST_HANG (a folder holding
;; a bundle that hangs forever).  ERT runs the tests in the order of their names.

;;; Code:

(require 'ert)
(require 'pluginary)

(defconst pluginary-test--repo
  (expand-file-name "../../.." (file-name-directory (or load-file-name buffer-file-name))))

(defconst pluginary-test--plugins
  (or (getenv "PLUGINARY_TEST_PLUGINS")
      (expand-file-name "vst3" (or (getenv "PLUGINARY_FIXTURES") "~/.cache/pluginary-fixtures"))))

(defconst pluginary-test--hang (getenv "PLUGINARY_TEST_HANG"))

(defconst pluginary-test--cache (make-temp-file "pluginary-emacs-" t))

(setq pluginary-server-command
      (if-let ((command (getenv "PLUGINARY_TEST_COMMAND")))
          (json-parse-string command :array-type 'list)
        (list (expand-file-name ".venv/bin/pluginary" pluginary-test--repo) "serve"))
      pluginary-cache-dir pluginary-test--cache
      pluginary-workers 2)

(add-hook 'kill-emacs-hook (lambda () (delete-directory pluginary-test--cache t)))

(defun pluginary-test--wait (what predicate &optional seconds)
  "Process input until PREDICATE holds; fail naming WHAT after SECONDS."
  (let ((deadline (+ (float-time) (or seconds 30))))
    (while (not (funcall predicate))
      (when (> (float-time) deadline)
        (ert-fail (format "timed out waiting for %s" what)))
      (accept-process-output nil 0.02))))

(defmacro pluginary-test--with-messages (messages &rest body)
  "Run BODY collecting what it shows in the echo area into MESSAGES (newest first)."
  (declare (indent 1))
  `(cl-letf* ((original (symbol-function 'message))
              ((symbol-function 'message)
               (lambda (format &rest args)
                 (when format (push (apply #'format-message format args) ,messages))
                 (apply original format args))))
     ,@body))

(defun pluginary-test--scan-and-wait (folders &optional only)
  "Scan FOLDERS; the list (ERROR RESULT PROGRESS-VALUES MESSAGES)."
  (let (outcome values messages)
    (let ((pluginary-progress-functions (list (lambda (value) (push value values)))))
      (pluginary-test--with-messages messages
        (pluginary-scan folders only (lambda (error result) (setq outcome (list error result))))
        (pluginary-test--wait "the scan" (lambda () outcome))))
    (list (car outcome) (cadr outcome) (nreverse values) (nreverse messages))))

(defvar pluginary-test--summary nil "The first scan's summary.")

(defun pluginary-test--scanned ()
  "Scan the real plugins once."
  (or pluginary-test--summary
      (setq pluginary-test--summary (cadr (pluginary-test--scan-and-wait
                                           (list pluginary-test--plugins) t)))))

(ert-deftest pluginary-test-0-audio-check-option ()
  (let ((pluginary-cache-dir nil) (pluginary-workers nil) (pluginary-timeout-seconds nil))
    (let ((pluginary-audio-check nil))
      (should (equal (pluginary--initialization-options)
                     '(:initializationOptions (:audioCheck :json-false)))))
    (let ((pluginary-audio-check t))
      (should (null (pluginary--initialization-options))))))

(ert-deftest pluginary-test-1-scan ()
  "A scan shows progress in the echo area and fills the catalogue."
  (should (file-directory-p pluginary-test--plugins))
  (let (changes)
    (let ((pluginary-catalog-changed-hook (list (lambda (change) (push change changes)))))
      (pcase-let ((`(,error ,summary ,values ,messages)
                   (pluginary-test--scan-and-wait (list pluginary-test--plugins) t)))
        (setq pluginary-test--summary summary)
        (should-not error)
        (should (= (plist-get summary :discovered)
                   (length (directory-files pluginary-test--plugins nil "\\.vst3\\'"))))
        (should (> (plist-get summary :ok) 0))
        (should (equal (plist-get (car values) :kind) "begin"))
        (should (eq (plist-get (car values) :cancellable) t))
        (should (equal (plist-get (car (last values)) :kind) "end"))
        (should (seq-find (lambda (m) (string-match-p "\\`Pluginary: [0-9]+% [0-9]+/[0-9]+ .+: ok\\'" m))
                          messages))
        (should (string-match-p "\\`Pluginary: [0-9]+ bundles found" (car (last messages))))
        (should (= (length (plist-get (car changes) :added))
                   (+ (plist-get summary :ok) (plist-get summary :failed))))))))

(ert-deftest pluginary-test-2-search ()
  "`pluginary-search' offers the matches with `completing-read' and shows the one picked."
  (pluginary-test--scanned)
  (let (offered)
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (setq offered (mapcar #'car collection))
                 (seq-find (lambda (c) (string-prefix-p "Dragonfly Plate Reverb" c)) offered))))
      (let ((buffer (pluginary-search "reverb")))
        (should (member (concat "Dragonfly Hall Reverb  (Michael Willis and Rob vd Berg, "
                                "Fx|Reverb|Stereo, 2 ch, latency 0 smp)")
                        offered))
        (with-current-buffer buffer
          (should (eq major-mode 'pluginary-parameters-mode))
          (should (equal (plist-get pluginary-record :name) "Dragonfly Plate Reverb"))
          (should (= (length tabulated-list-entries) (plist-get pluginary-record :parameterCount)))
          (should (equal (mapcar #'car tabulated-list-format)
                         '("Name" "Units" "Range" "Default" "Values" "Texts at 0 … 1")))
          (let ((rows (mapcar #'cadr tabulated-list-entries)))
            (should (member ["Algorithm" "" "" "Nested" "Simple, Nested, Tank"
                             "Simple | Nested | Nested | Tank | Tank"]
                            rows))
            (should (seq-find (lambda (row) (and (equal (aref row 0) "Dry Level")
                                                 (equal (aref row 1) "%")
                                                 (string-prefix-p "0 … 100 step" (aref row 2))
                                                 (string-match-p
                                                  "\\`0\\.0+ | 25\\.0+ | 50\\.0+ | 75\\.0+ | 100\\.0+\\'"
                                                  (aref row 5))))
                              rows)))
          (let ((facts (pluginary-test--facts)))
            (pluginary-test--should-match
             '("Channels:    2" "Latency:     0 samples" "Audio check: ok, peak 0\\.[0-9]+"
               "State:       round-trips ([0-9]+ bytes)"
               "Probe ms:    load [0-9]+\\.[0-9], parameters [0-9]+\\.[0-9], audio [0-9]+\\.[0-9]")
             facts)
            ;; Sorting reprints the rows; the facts stay above them.
            (tabulated-list-sort 0)
            (should (equal (pluginary-test--facts) facts))
            (should (= (length (pluginary-test--rows)) (length tabulated-list-entries))))
          (goto-char (point-min))
          (should (search-forward "Simple, Nested, Tank" nil t)))))))

(defun pluginary-test--facts ()
  "The lines above the current buffer's first row, blank ones left out."
  (let ((first-row (or (text-property-not-all (point-min) (point-max) 'tabulated-list-id nil)
                       (point-max))))
    (split-string (buffer-substring-no-properties (point-min) first-row) "\n" t)))

(defun pluginary-test--rows ()
  "The ids of the rows printed in the current buffer."
  (save-excursion
    (goto-char (point-min))
    (let (ids)
      (while (not (eobp))
        (when-let ((id (tabulated-list-get-id)))
          (push id ids))
        (forward-line 1))
      (nreverse ids))))

(defun pluginary-test--should-match (regexps lines)
  "Each of LINES matches the regexp at its place in REGEXPS."
  (should (= (length lines) (length regexps)))
  (cl-mapc (lambda (regexp line) (should (string-match-p (concat "\\`" regexp "\\'") line)))
           regexps lines))

(defun pluginary-test--pick (text name)
  "Search TEXT and pick the plugin NAME; (CANDIDATES BUFFER)."
  (let (offered)
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (setq offered (mapcar #'car collection))
                 (seq-find (lambda (c) (string-prefix-p (concat name "  ") c)) offered))))
      (let ((buffer (pluginary-search text)))
        (list offered buffer)))))

(ert-deftest pluginary-test-2-ready ()
  "Searches filter on and show channels, latency and the audio check; so do the buffers."
  (pluginary-test--scanned)
  (should (equal (pluginary--query-params " dragonfly ch:2  latency:0 audio:ok ")
                 '(:text "dragonfly" :channels 2 :maxLatency 0 :audioOk t)))
  (should (equal (pluginary--query-params "ch:3 audio:failed") '(:text "ch:3" :audioOk :json-false)))
  ;; ZamComp is mono; ZamEQ2, mono too, writes NaN at its defaults.
  (pcase-let ((`(,offered ,buffer) (pluginary-test--pick "zam ch:1 latency:0 audio:ok" "ZamComp")))
    (should (member "ZamComp  (Damien Zammit, Fx|Dynamics|Mono, 1 ch, latency 0 smp)" offered))
    (should-not (seq-remove (lambda (c) (string-suffix-p ", 1 ch, latency 0 smp)" c)) offered))
    (should-not (seq-find (lambda (c) (string-prefix-p "ZamEQ2" c)) offered))
    (with-current-buffer buffer
      (should (equal (plist-get pluginary-record :name) "ZamComp"))
      (should (equal (seq-take (pluginary-test--facts) 2) '("Channels:    1" "Latency:     0 samples")))
      (should (= (length (pluginary-test--rows)) (plist-get pluginary-record :parameterCount)))))
  (pcase-let ((`(,offered ,buffer) (pluginary-test--pick "audio:failed" "ZamEQ2")))
    (should (equal offered
                   '("ZamEQ2  (Damien Zammit, Fx|EQ|Mono, 1 ch, latency 0 smp, AUDIO CHECK FAILED)")))
    (with-current-buffer buffer
      (should (member "Audio check: FAILED: the output holds NaN or infinity"
                      (pluginary-test--facts)))))
  ;; A plugin that never loaded was never checked: no facts (and no rows).
  (pcase-let ((`(,_ ,buffer) (pluginary-test--pick "zamverb" "ZamVerb")))
    (with-current-buffer buffer
      (should (equal (plist-get pluginary-record :status) "failed"))
      (should (= (buffer-size) 0))))
  ;; No real plugin has an unusable range: flag one of ZamComp's.
  (let* ((record (with-current-buffer "*Pluginary: ZamComp*" pluginary-record))
         (knee (seq-find (lambda (p) (equal (plist-get p :name) "Knee"))
                         (plist-get record :parameters))))
    (should (string-match-p "\\`0 … 8 step [0-9.]+ ⚠ degenerate (min = max)\\'"
                            (pluginary--range (plist-put (copy-sequence knee)
                                                         :rangeProblem "degenerate"))))))

(ert-deftest pluginary-test-2-path-bytes ()
  "A path that is not UTF-8 is shown with a note giving its exact bytes."
  (pluginary-test--scanned)
  (let* ((found (pluginary-request :pluginary/query '(:text "zamcomp")))
         (real (pluginary-request :pluginary/plugin
                                  (list :id (plist-get (seq-first (plist-get found :plugins)) :id))))
         ;; No real plugin lives at such a path: the sidecar's answer for one in
         ;; /opt/plugins/caf\xe9 (U+FFFD in the text for the byte 0xE9).
         (record (append (list :path "/opt/plugins/caf\ufffd/ZamComp.vst3"
                               :pathBytes "L29wdC9wbHVnaW5zL2NhZukvWmFtQ29tcC52c3Qz")
                         real))
         messages)
    (should (null (plist-get real :pathBytes)))
    (should (equal (pluginary--path-text real) (plist-get real :path)))
    (cl-letf (((symbol-function 'pluginary-request) (lambda (&rest _) record)))
      (pluginary-test--with-messages messages
        (kill-buffer (pluginary-show (plist-get record :id))))) ; Its record is made up.
    (should (string-suffix-p
             (concat ", /opt/plugins/caf\ufffd/ZamComp.vst3"
                     " (not UTF-8; exactly $'/opt/plugins/caf\\xe9/ZamComp.vst3')")
             (car messages)))
    ;; Quotes, backslashes and control bytes are escaped too: the note is one line, and exact.
    (should (equal (pluginary--path-text '(:path "x" :pathBytes "AAECJ1z9/v8="))
                   "x (not UTF-8; exactly $'\\x00\\x01\\x02\\x27\\x5c\\xfd\\xfe\\xff')"))))

(ert-deftest pluginary-test-3-errors ()
  "Errors are sentences: an unknown plugin, nothing to resume."
  (pluginary-test--scanned)
  (should (equal (cadr (should-error (pluginary-show "vst3.nope.00000000") :type 'user-error))
                 "Pluginary: no plugin with id 'vst3.nope.00000000' in the catalogue"))
  (let (outcome)
    (pluginary-resume (lambda (error _) (setq outcome error)))
    (pluginary-test--wait "the resume" (lambda () outcome))
    (should (equal (pluginary--error-text outcome) "there is no interrupted scan to resume"))))

(ert-deftest pluginary-test-4-cancel-and-resume ()
  "`pluginary-cancel' stops a scan resumably; `pluginary-resume' finishes it."
  (skip-unless pluginary-test--hang)
  (pluginary-test--scanned)
  ;; The real bundles are unchanged, so the one bundle probed is the one that hangs.
  (let ((pluginary-timeout-seconds 2) outcome)
    (pluginary-stop) ; The timeout is an initialization option: restart with it.
    (let ((pluginary-progress-functions
           (list (lambda (value) (when (equal (plist-get value :kind) "report") (pluginary-cancel))))))
      (pluginary-scan (list pluginary-test--plugins pluginary-test--hang) t
                      (lambda (error _) (setq outcome error)))
      (pluginary-test--wait "the cancelled scan" (lambda () outcome)))
    (should (= (plist-get outcome :code) -32800))
    (should (plist-get (pluginary-status) :interrupted))
    (setq outcome nil)
    (pluginary-resume (lambda (error result) (setq outcome (list error result))))
    (pluginary-test--wait "the resume" (lambda () outcome))
    (should-not (car outcome))
    (should (= (plist-get (cadr outcome) :timedOut) 1))
    (should-not (plist-get (pluginary-status) :interrupted))))

(ert-deftest pluginary-test-5-stop ()
  "`pluginary-stop' shuts the sidecar down: exit status 0."
  (pluginary-status)
  (should (= (pluginary-stop) 0)))

(provide 'pluginary-tests)
;;; pluginary-tests.el ends here
