package primasim

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
)

// maxRequestBytes bounds a request envelope; a stock batch of every SKU of
// a large catalogue fits many times over.
const maxRequestBytes = 8 << 20

// handleSOAP serves the instance URL as Prima does: SOAP 1.1, one RPC call
// of wsomhandler(RequestXML) or comwsomhandler(CompanyID, RequestXML) per
// POST, the Request document as a string in, the Response document as a
// string out (prima.wsdl). What the SOAP layer refuses (bad credentials,
// not text/xml, no SOAPAction, a malformed envelope, an unknown operation
// or parts other than the WSDL's) is a SOAP Fault; what the handler
// refuses (an unknown company, a malformed or unknown Request, a business
// refusal) is an answer with RequestStatus="ERROR", as Prima's are.
func (s *Server) handleSOAP(w http.ResponseWriter, r *http.Request) {
	if u, p := s.opts.BasicAuthUser, s.opts.BasicAuthPassword; u != "" || p != "" {
		gu, gp, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(gu), []byte(u)) != 1 || subtle.ConstantTimeCompare([]byte(gp), []byte(p)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="prima"`)
			writeError(w, http.StatusUnauthorized, "Not authorised")
			return
		}
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "text/xml" {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: SOAP 1.1 is text/xml", ct))
		return
	}
	if len(r.Header.Values("SOAPAction")) == 0 {
		writeFault(w, http.StatusInternalServerError, wire.FaultClient, "The SOAPAction header is required")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "Request too large")
		return
	}
	call, err := wire.UnmarshalCall(body, ct)
	if err != nil {
		f := &wire.Fault{Code: wire.FaultClient, String: err.Error()}
		errors.As(err, &f)
		writeFault(w, http.StatusInternalServerError, f.Code, f.String)
		return
	}
	want := []string{wire.PartRequest}
	switch call.Op {
	case wire.OpHandler:
	case wire.OpCompanyHandler:
		want = []string{wire.PartCompanyID, wire.PartRequest}
	default:
		writeFault(w, http.StatusInternalServerError, wire.FaultClient, fmt.Sprintf("Unknown operation %s", call.Op))
		return
	}
	if !partsAre(call, want) {
		writeFault(w, http.StatusInternalServerError, wire.FaultClient, fmt.Sprintf("%s takes the parts %v", call.Op, want))
		return
	}
	doc, _ := call.Arg(wire.PartRequest)
	writeReturn(w, call.Op, s.handle(call, doc))
}

// handle answers one Request document.
func (s *Server) handle(call wire.Call, doc string) wire.Response {
	if call.Op == wire.OpCompanyHandler {
		switch id, _ := call.Arg(wire.PartCompanyID); id {
		case s.opts.CompanyID:
		case "":
			return errorResponse("", "CompanyID is required")
		default:
			return errorResponse("", fmt.Sprintf("Unknown CompanyID %q", id))
		}
	}
	var req wire.Request
	if err := wire.UnmarshalString(doc, &req); err != nil {
		return errorResponse("", "Malformed request: "+err.Error())
	}
	s.mu.Lock()
	s.counts.Requests[req.RequestType]++
	resp := s.dispatch(req)
	s.mu.Unlock()
	resp.RequestType = req.RequestType
	return resp
}

// partsAre reports whether call has exactly the parts named, in order, as
// an RPC literal call of the WSDL's message does.
func partsAre(call wire.Call, names []string) bool {
	if len(call.Parts) != len(names) {
		return false
	}
	for i, p := range call.Parts {
		if p.Name != names[i] {
			return false
		}
	}
	return true
}

// handleWSDL publishes prima.wsdl at GET /wsdl, as a real instance does at
// its URL ending in /wsdl, with the endpoint address set to the instance
// URL the caller used (scheme and Host), so that a stock SOAP client given
// only the WSDL URL can call the simulator. ?targetURI= may name urn:omlink,
// as public client code does; another namespace is not served here.
func (s *Server) handleWSDL(w http.ResponseWriter, r *http.Request) {
	if t := r.URL.Query().Get("targetURI"); t != "" && t != wire.Namespace {
		http.Error(w, fmt.Sprintf("no web service for targetURI %q", t), http.StatusNotFound)
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write(prima.WSDL(scheme + "://" + r.Host + "/"))
}

// writeReturn answers a call with its Response document as the return
// value, in an ISO-8859-1 envelope.
func writeReturn(w http.ResponseWriter, op string, resp wire.Response) {
	doc, err := wire.MarshalString(resp)
	if err != nil {
		writeFault(w, http.StatusInternalServerError, wire.FaultServer, "Encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", wire.ContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(wire.MarshalReturn(op, wire.PartResponse, doc))
}

// writeError answers a call refused before it was read (an injected fault,
// bad credentials, a body too large): a SOAP Fault at status, from the
// server unless the status blames the client.
func writeError(w http.ResponseWriter, status int, msg string) {
	code := wire.FaultServer
	if status >= 400 && status < 500 && status != http.StatusTooManyRequests {
		code = wire.FaultClient
	}
	writeFault(w, status, code, msg)
}

func writeFault(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", wire.ContentType)
	w.WriteHeader(status)
	_, _ = w.Write(wire.MarshalFault(code, msg))
}
