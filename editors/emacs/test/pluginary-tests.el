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
        (should (member "Dragonfly Hall Reverb  (Michael Willis and Rob vd Berg, Fx|Reverb|Stereo)"
                        offered))
        (with-current-buffer buffer
          (should (eq major-mode 'pluginary-parameters-mode))
          (should (equal (plist-get pluginary-record :name) "Dragonfly Plate Reverb"))
          (should (= (length tabulated-list-entries) (plist-get pluginary-record :parameterCount)))
          (should (equal (mapcar #'car tabulated-list-format)
                         '("Name" "Units" "Range" "Default" "Values")))
          (let ((rows (mapcar #'cadr tabulated-list-entries)))
            (should (member ["Algorithm" "" "" "Nested" "Simple, Nested, Tank"] rows))
            (should (seq-find (lambda (row) (and (equal (aref row 0) "Dry Level")
                                                 (equal (aref row 1) "%")
                                                 (string-prefix-p "0 … 100 step" (aref row 2))))
                              rows)))
          (goto-char (point-min))
          (should (search-forward "Simple, Nested, Tank" nil t)))))))

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
