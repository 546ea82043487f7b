%% elixir_scope_agent: the only ElixirScope code that runs on the node being debugged.
%%
%% WHAT IT IS
%%   One Erlang module (so it runs on an Elixir node and on a pure Erlang node alike). The engine
%%   compiles it on the target from this source over rpc and loads it with code:load_binary; nothing
%%   is written to disk. Each engine session gets its own process, the relay: it is the tracer of
%%   the processes it traces, it receives the trace messages and GenServer state reports, cuts big
%%   terms down, enforces the limits and sends the events to the engine in batches
%%   ({es_batch, Relay, Seq, term_to_binary(Events)}). docs/agent-protocol.md is the contract.
%%
%% AN EXAMPLE SESSION (what the engine does over rpc, written as shell calls)
%%   {ok, Relay, Info} = elixir_scope_agent:start_session(EnginePid,
%%       #{max_rate => 10000, max_events => 100000, max_duration_ms => 60000, max_mailbox => 50000,
%%         max_term_bytes => 4096, batch_events => 500, flush_ms => 50}),
%%   {ok, [#{module := lists, function := seq, arity := 2}]} =
%%       elixir_scope_agent:request(Relay, {trace_calls,
%%           [#{module => <<"lists">>, function => <<"seq">>, arity => 2, match_spec => []}],
%%           #{returns => true}}, 5000),
%%   {ok, N} = elixir_scope_agent:request(Relay, {trace_processes, all, [call]}, 5000),
%%   {ok, Pid, gen_server} = elixir_scope_agent:request(Relay, {trace_state, {name, <<"my_server">>}}, 5000),
%%   ... EnginePid receives {es_batch, Relay, 1, Bin}, {es_batch, Relay, 2, Bin}, ...
%%   {ok, #{origin := source, quoted := Q}} = elixir_scope_agent:ast_source(<<"Elixir.Shop.Cart">>, #{}),
%%   {ok, [#{md5_before := Md5}]} = elixir_scope_agent:instrument(Relay,
%%       [#{module => <<"Elixir.Shop.Cart">>, quoted => Transformed}], #{}),
%%   ... es_ast events from the instrumented code arrive in the same batches ...
%%   {ok, Stats} = elixir_scope_agent:request(Relay, stop, 5000).
%%   %% EnginePid got {es_done, Relay, stopped, Stats} before the reply; Shop.Cart's md5 is Md5 again.
%%
%% WHY IT IS SAFE IN PRODUCTION (in the spirit of recon and redbug)
%%   * Every limit is checked here, on the target: events per second, total events, duration, the
%%     relay's own mailbox, the size of any captured term. Reaching one switches tracing off first,
%%     says so ({es_limit, ...}) and ends the session.
%%   * The relay monitors the engine. Whatever ends the engine (kill -9 closes the socket at once; a
%%     lost network is noticed within net_ticktime) the relay removes every trace flag, trace
%%     pattern and sys hook IT set, and nothing else: it only touches processes whose tracer is
%%     itself, refuses (already_traced) rather than overwrite someone else's trace pattern, and
%%     never calls erlang:trace(all, false, ...) or dbg:stop_clear().
%%   * It never creates an atom from user input: names arrive as binaries and go through
%%     binary_to_existing_atom/2; an unknown one is an error, since nothing on the node could match.
%%   * Batches go out with erlang:send/3 [nosuspend]: a slow engine makes batches wait here (at most
%%     max_mailbox events; beyond that the oldest are dropped, counted, and visible as a gap in Seq),
%%     never a relay suspended while its mailbox grows.
%%   * A guardian process watches the relay: if the relay itself dies abnormally (killed, a bug),
%%     the guardian removes what the relay had set.
%%   * Instrumented code (docs/ast.md) is loaded only after a soft purge and only when no process runs
%%     the module, and only when the exact original is at hand (the .beam with the loaded md5). The
%%     relay puts every original back at every end of its session; the guardian holds them too and
%%     does it if the relay dies. Probes never call this module, so it can go while they run.
%%   * The last relay to go unloads the module (code:delete + code:soft_purge, never a hard purge)
%%     from a helper process that runs no code of this module, so the helper cannot keep it alive.
%%
%% This file is compiled from parsed forms, without the preprocessor: no macros, no includes.
-module(elixir_scope_agent).

-export([version/0, start_session/2, request/3, relay_count/0]).
%% AST instrumentation (docs/ast.md): called over rpc, they run in the caller, never in the relay.
-export([ast_source/2, instrument/3, instrumented/0, revert_all/1]).
%% Read only, over rpc, runs in the rpc worker (docs/agent-protocol.md, "Supervision tree").
-export([supervision_tree/1]).
%% Internal: the relay's entry point (its initial_call identifies relays of every version).
-export([relay_init/1]).

-record(st, {
    engine,                 % the engine pid we report to
    mref,                   % monitor on the engine
    max_rate, max_events, max_mailbox, max_bytes, batch, flush_ms, max_duration,
    native_per_sec,
    acc = [],               % events of the batch being built, newest first
    nacc = 0,
    seq = 0,
    events = 0,             % events accepted (trace messages and state reports)
    sent = 0,               % events sent to the engine
    dropped = #{},          % reason => count
    truncated = 0,
    batches = 0,
    win_start = undefined,  % native monotonic start of the current one-second rate window
    win_count = 0,
    patterns = #{},         % {M,F,A} => true: trace patterns we set (there was none before)
    pids = #{},             % pids we set flags on explicitly
    scan = false,           % true once set_on_spawn/new/all may have given us processes we never named
    new_flags = false,      % true when we set the default flags for new processes
    hooks = #{},            % Pid => the sys debug fun we installed
    pending = [],           % batches waiting for a congested link, oldest first: {Seq, Bin, N}
    pending_n = 0,          % events in `pending`
    tick,
    dur_timer,
    guardian,               % see start_guardian/0
    ast = #{},              % Mod => #{original, file, md5_before, md5_instrumented}: modules we loaded
    ast_blocked = #{},      % Mod => true: a revert waits for old code to be left (retried on es_ast_retry)
    ast_timer               % the es_ast_retry timer while ast_blocked is not empty
}).

%% ================================================================================================
%% PUBLIC
%% ================================================================================================

%% {ProtocolVersion, SourceMd5}. The loader replaces the atom below with the md5 (hex binary) of
%% the source file before compiling, so two engines can tell whether they run the same code.
version() -> {1, '$es_source_md5'}.

%% Starts a relay for EnginePid. Opts carries every limit (see docs/agent-protocol.md).
start_session(Engine, Opts) when is_pid(Engine), is_map(Opts) ->
    case check_opts(Opts) of
        {ok, Lim} ->
            Ref = make_ref(),
            %% Not linked: the rpc worker calling us exits right after we return.
            {Relay, MRef} = spawn_monitor(elixir_scope_agent, relay_init, [{self(), Ref, Engine, Lim}]),
            receive
                {Ref, Info} ->
                    erlang:demonitor(MRef, [flush]),
                    {ok, Relay, Info};
                {'DOWN', MRef, process, Relay, Reason} ->
                    {error, {relay_failed, Reason}}
            after 5000 ->
                exit(Relay, kill),
                {error, timeout}
            end;
        Error ->
            Error
    end;
start_session(Engine, Opts) ->
    {error, {badarg, [Engine, Opts]}}.

%% Asks a relay something and waits for the answer (or {error, timeout}).
request(Relay, Request, Timeout) when is_pid(Relay) ->
    %% The rpc worker running this may itself have been traced by the relay (tracing `new`): it
    %% stops tracing itself so that asking does not produce events.
    case erlang:trace_info(self(), tracer) of
        {tracer, Relay} -> erlang:trace(self(), false, [all]);
        _ -> ok
    end,
    MRef = erlang:monitor(process, Relay),
    Relay ! {es_req, self(), MRef, Request},
    receive
        {MRef, Reply} ->
            erlang:demonitor(MRef, [flush]),
            Reply;
        {'DOWN', MRef, process, _, Reason} ->
            {error, {relay_down, Reason}}
    after Timeout ->
        erlang:demonitor(MRef, [flush]),
        {error, timeout}
    end.

%% How many relays (of any version of this module) are running on this node.
relay_count() ->
    length(relays()).

relays() ->
    [P || P <- erlang:processes(),
          erlang:process_info(P, initial_call) =:= {initial_call, {elixir_scope_agent, relay_init, 1}}].

check_opts(Opts) ->
    Keys = [max_rate, max_events, max_duration_ms, max_mailbox, max_term_bytes, batch_events, flush_ms],
    Bad = [K || K <- Keys, not (is_integer(maps:get(K, Opts, x)) andalso maps:get(K, Opts, x) > 0)],
    case Bad of
        [] -> {ok, Opts};
        _ -> {error, {bad_opts, Bad}}
    end.

%% ================================================================================================
%% RELAY
%% ================================================================================================

relay_init({Caller, Ref, Engine, Lim}) ->
    %% Trace messages can pile up: keeping them off the heap makes a long queue cheap to hold and
    %% keeps garbage collection of the relay short.
    process_flag(message_queue_data, off_heap),
    MRef = erlang:monitor(process, Engine),
    Guardian = start_guardian(),
    PerSec = erlang:convert_time_unit(1, second, native),
    Now = erlang:monotonic_time(),
    FlushMs = maps:get(flush_ms, Lim),
    St = #st{engine = Engine, mref = MRef,
             max_rate = maps:get(max_rate, Lim), max_events = maps:get(max_events, Lim),
             max_mailbox = maps:get(max_mailbox, Lim), max_bytes = maps:get(max_term_bytes, Lim),
             batch = maps:get(batch_events, Lim), flush_ms = FlushMs,
             max_duration = maps:get(max_duration_ms, Lim),
             native_per_sec = PerSec,
             guardian = Guardian,
             tick = erlang:start_timer(FlushMs, self(), es_tick),
             dur_timer = erlang:start_timer(maps:get(max_duration_ms, Lim), self(), es_max_duration)},
    Elixir = case application:get_key(elixir, vsn) of
                 {ok, V} -> list_to_binary(V);
                 undefined -> nil
             end,
    Info = #{agent_version => element(1, version()),
             otp_release => list_to_binary(erlang:system_info(otp_release)),
             elixir_version => Elixir,
             native_per_sec => PerSec,
             mono_start => Now,
             time_offset => erlang:time_offset(),
             node => node()},
    Caller ! {Ref, Info},
    loop(St).

%% Every message is handled with a small, bounded amount of work so that requests and the engine's
%% DOWN are seen promptly even while events stream in.
loop(St) ->
    receive
        Msg -> loop(handle(Msg, St))
    end.

handle(Ev, St) when element(1, Ev) =:= trace_ts ->
    trace_event(Ev, St);
handle({es_sys, Pid, Ts, Raw, Reply, State}, St) ->
    Max = St#st.max_bytes,
    {Raw2, C1} = trunc(Raw, Max),
    {Reply2, C2} = case Reply of
                       {reply, R} -> {R2, C} = trunc(R, Max), {{reply, R2}, C};
                       _ -> {Reply, 0}
                   end,
    {State2, C3} = trunc(State, Max),
    add_event({es_state, Pid, Ts, Raw2, Reply2, State2}, Ts, C1 + C2 + C3, St);
handle({es_ast, Pid, Ts, Kind, Mfa, Line, Payload}, St) when is_integer(Ts) ->
    {P2, Cut} = case Kind of
                    call -> trunc_elems(Payload, St#st.max_bytes);
                    locals -> trunc_elems(Payload, St#st.max_bytes);
                    _ -> trunc(Payload, St#st.max_bytes)
                end,
    add_event({es_ast, Pid, Ts, Kind, Mfa, Line, P2}, Ts, Cut, St);
handle({es_req, From, Ref, Req}, St) ->
    request_in(Req, From, Ref, St);
handle({timeout, TRef, es_ast_retry}, #st{ast_timer = TRef} = St) ->
    ast_retry(St#st{ast_timer = undefined});
handle({timeout, TRef, es_tick}, #st{tick = TRef} = St) ->
    St1 = check_mailbox(flush(St)),
    St1#st{tick = erlang:start_timer(St1#st.flush_ms, self(), es_tick)};
handle({timeout, TRef, es_max_duration}, #st{dur_timer = TRef} = St) ->
    limit(max_duration_ms, St#st.max_duration, St);
handle({'DOWN', MRef, process, _, _}, #st{mref = MRef} = St) ->
    engine_down(St);
handle(_Other, St) ->
    St#st{dropped = bump(unexpected, St#st.dropped)}.

request_in(Req, From, Ref, St) ->
    case Req of
        stop ->
            St1 = final_flush(drain(after_stop, ast_end(untrace_all(St)))),
            send_done(stopped, St1),
            From ! {Ref, {ok, stats(St1)}},
            exit(normal);
        stats ->
            From ! {Ref, {ok, stats(St)}},
            St;
        _ ->
            {Reply, St1} = try do_request(Req, St)
                           catch throw:{error, _} = E -> {E, St}
                           end,
            %% The guardian hears of new patterns and hooks before anyone else can rely on them.
            St2 = guard(St1),
            From ! {Ref, Reply},
            St2
    end.

do_request({trace_calls, Targets, Opts}, St) when is_list(Targets), is_map(Opts) ->
    Returns = maps:get(returns, Opts, false) =:= true,
    Resolved = [resolve_target(T, Returns) || T <- Targets],
    Mfas = lists:append([[{Mfa, MS} || Mfa <- L] || {L, MS} <- Resolved]),
    %% Check every MFA before setting any: a refusal leaves nothing half done.
    [check_pattern_free(Mfa, St) || {Mfa, _} <- Mfas],
    Patterns = lists:foldl(fun({Mfa, MS}, Acc) ->
                                   erlang:trace_pattern(Mfa, MS, [local]),
                                   Acc#{Mfa => true}
                           end, St#st.patterns, Mfas),
    Reply = [#{module => M, function => F, arity => A} || {{M, F, A}, _} <- Mfas],
    {{ok, Reply}, St#st{patterns = Patterns}};
do_request({trace_processes, Which, Flags}, St) when is_list(Flags) ->
    Allowed = [call, send, 'receive', procs, set_on_spawn],
    case Flags =/= [] andalso lists:all(fun(F) -> lists:member(F, Allowed) end, Flags) of
        true -> ok;
        false -> throw({error, {bad_flags, Flags}})
    end,
    TFlags = Flags ++ [monotonic_timestamp, {tracer, self()}],
    Scan = St#st.scan orelse lists:member(set_on_spawn, Flags),
    trace_procs(Which, TFlags, St#st{scan = Scan});
do_request({trace_state, Which}, St) ->
    Pid = resolve_pid(Which),
    trace_state(Pid, St);
do_request({ast_load, Items}, St) when is_list(Items) ->
    ast_load(Items, St);
do_request({ast_revert, Which}, St) ->
    ast_revert(Which, St);
do_request(ast_list, St) ->
    {{ok, [#{module => M, md5_before => maps:get(md5_before, I), blocked => maps:is_key(M, St#st.ast_blocked)}
           || {M, I} <- maps:to_list(St#st.ast)]}, St};
do_request(Other, St) ->
    {{error, {bad_request, Other}}, St}.

%% ------------------------------------------------------------------------------------------------
%% Calls
%% ------------------------------------------------------------------------------------------------

resolve_target(#{module := MB, function := FB, arity := A, match_spec := MS0}, Returns)
  when is_binary(MB), (is_binary(FB) orelse FB =:= '_'), (is_integer(A) orelse A =:= '_') ->
    M = case existing_atom(MB) of
            {ok, M0} -> M0;
            error -> throw({error, {unknown_module, MB}})
        end,
    case code:ensure_loaded(M) of
        {module, M} -> ok;
        _ -> throw({error, {unknown_module, MB}})
    end,
    F = case FB of
            '_' -> '_';
            _ -> case existing_atom(FB) of
                     {ok, F0} -> F0;
                     error -> throw({error, {unknown_function, M, FB, A}})
                 end
        end,
    Funs = M:module_info(functions),
    Mfas = [{M, Fn, Ar} || {Fn, Ar} <- Funs,
                           F =:= Fn orelse (F =:= '_' andalso plain_function(Fn)),
                           A =:= '_' orelse A =:= Ar],
    case Mfas of
        [] -> throw({error, {unknown_function, M, F, A}});
        _ -> ok
    end,
    MS1 = case MS0 of
              true -> [{'_', [], []}];
              [] -> [{'_', [], []}];
              _ -> atoms_in(MS0)
          end,
    %% exception_trace implies return_trace and also reports calls that end in an exception.
    MS = case Returns of
             true when is_list(MS1) ->
                 [case C of
                      {H, G, B} when is_list(B) -> {H, G, B ++ [{exception_trace}]};
                      _ -> C
                  end || C <- MS1];
             _ -> MS1
         end,
    case catch erlang:match_spec_test([], MS, trace) of
        {ok, _, _, _} -> ok;
        {error, Errors} -> throw({error, {bad_match_spec, Errors}});
        Other -> throw({error, {bad_match_spec, Other}})
    end,
    {Mfas, MS};
resolve_target(Other, _) ->
    throw({error, {bad_target, Other}}).

%% `function => '_'` means the functions a person wrote: not module_info/0,1 nor the compiler's
%% '-fun-N-' helpers.
plain_function(module_info) -> false;
plain_function(F) -> hd(atom_to_list(F)) =/= $-.

%% {'$es_atom', Bin} markers inside a match spec become existing atoms (or the request fails).
atoms_in({'$es_atom', B}) when is_binary(B) ->
    case existing_atom(B) of
        {ok, A} -> A;
        error -> throw({error, {unknown_atom, B}})
    end;
atoms_in(T) when is_tuple(T) -> list_to_tuple(atoms_in(tuple_to_list(T)));
atoms_in([H | T]) -> [atoms_in(H) | atoms_in(T)];
atoms_in(M) when is_map(M) -> maps:from_list(atoms_in(maps:to_list(M)));
atoms_in(X) -> X.

existing_atom(B) ->
    try {ok, binary_to_existing_atom(B, utf8)}
    catch error:badarg -> error
    end.

%% A pattern or meta trace someone else set on this MFA is theirs: refuse rather than overwrite.
check_pattern_free(Mfa, St) ->
    case maps:is_key(Mfa, St#st.patterns) of
        true -> ok;
        false ->
            Traced = erlang:trace_info(Mfa, traced),
            Meta = erlang:trace_info(Mfa, meta),
            case {Traced, Meta} of
                {{traced, false}, {meta, false}} -> ok;
                _ -> throw({error, {already_traced, Mfa}})
            end
    end.

%% ------------------------------------------------------------------------------------------------
%% Processes
%% ------------------------------------------------------------------------------------------------

trace_procs(all, TFlags, St) ->
    {{ok, N1}, St1} = trace_procs(new, TFlags, St),
    {{ok, N2}, St2} = trace_procs(existing, TFlags, St1),
    {{ok, N1 + N2}, St2};
trace_procs(new, TFlags, St) ->
    Self = self(),
    case erlang:trace_info(new, tracer) of
        {tracer, []} -> ok;
        {tracer, Self} -> ok;
        _ -> throw({error, {already_traced, new}})
    end,
    erlang:trace(new, true, TFlags),
    {{ok, 0}, St#st{new_flags = true, scan = true}};
trace_procs(existing, TFlags, St) ->
    %% One process at a time rather than erlang:trace(existing, ...): a process someone else traces
    %% keeps its tracer, and relays (ours and other engines') are never traced.
    Self = self(),
    Relays = [St#st.guardian | relays()],
    {N, Pids} = lists:foldl(
                  fun(P, {K, Acc} = Same) ->
                          case lists:member(P, Relays) of
                              true -> Same;
                              false ->
                                  case catch erlang:trace_info(P, tracer) of
                                      {tracer, T} when T =:= []; T =:= Self ->
                                          case catch erlang:trace(P, true, TFlags) of
                                              1 -> {K + 1, Acc#{P => true}};
                                              _ -> Same   % it exited meanwhile
                                          end;
                                      _ -> Same
                                  end
                          end
                  end, {0, St#st.pids}, erlang:processes()),
    {{ok, N}, St#st{pids = Pids, scan = true}};
trace_procs(Which, TFlags, St) ->
    Pid = resolve_pid(Which),
    Self = self(),
    case lists:member(Pid, relays()) of
        true -> throw({error, {already_traced, Pid}});
        false -> ok
    end,
    case catch erlang:trace_info(Pid, tracer) of
        {tracer, T} when T =:= []; T =:= Self -> ok;
        {tracer, _} -> throw({error, {already_traced, Pid}});
        _ -> throw({error, {no_such_process, Pid}})
    end,
    case catch erlang:trace(Pid, true, TFlags) of
        1 -> {{ok, 1}, St#st{pids = (St#st.pids)#{Pid => true}}};
        _ -> throw({error, {no_such_process, Pid}})
    end.

resolve_pid({pid, Pid}) when is_pid(Pid), node(Pid) =:= node() ->
    case is_process_alive(Pid) of
        true -> Pid;
        false -> throw({error, {no_such_process, Pid}})
    end;
resolve_pid({pid, Pid}) ->
    throw({error, {no_such_process, Pid}});
resolve_pid({name, B}) when is_binary(B) ->
    case existing_atom(B) of
        {ok, Name} ->
            case whereis(Name) of
                Pid when is_pid(Pid) -> Pid;
                _ -> throw({error, {unknown_name, B}})
            end;
        error -> throw({error, {unknown_name, B}})
    end;
resolve_pid(Other) ->
    throw({error, {bad_process, Other}}).

%% ------------------------------------------------------------------------------------------------
%% State (sys debug hooks)
%% ------------------------------------------------------------------------------------------------

trace_state(Pid, _St) when Pid =:= self() ->
    throw({error, {not_a_sys_process, Pid}});
trace_state(Pid, St) ->
    case maps:is_key(Pid, St#st.hooks) of
        true -> throw({error, {already_traced, Pid}});
        false -> ok
    end,
    %% Only processes started by proc_lib answer system messages; a plain process would keep our
    %% {system, ...} request in its mailbox for ever, so it is not even asked.
    case erlang:process_info(Pid, dictionary) of
        {dictionary, D} when is_list(D) ->
            case lists:keymember('$initial_call', 1, D) of
                true -> ok;
                false -> throw({error, {not_a_sys_process, Pid}})
            end;
        _ -> throw({error, {no_such_process, Pid}})
    end,
    {Behaviour, Dbg} = try sys:get_status(Pid, 1000) of
                           {status, _, {module, Mod}, [_PDict, _SysState, _Parent, Dbg0 | _]} ->
                               {behaviour(Mod), Dbg0};
                           _ -> throw({error, {not_a_sys_process, Pid}})
                       catch
                           %% A proc_lib process that does not answer within a second is busy
                           %% (or not a sys process at all): say which, rather than guess.
                           exit:{timeout, _} -> throw({error, {sys_timeout, Pid}});
                           exit:_ -> throw({error, {not_a_sys_process, Pid}})
                       end,
    case is_list(Dbg) andalso lists:any(fun is_our_hook/1, Dbg) of
        true -> throw({error, {already_traced, Pid}});
        false -> ok
    end,
    %% The snapshot is read before the hook goes in, so the events that follow it are in order.
    Snap = try sys:get_state(Pid, 1000)
           catch exit:_ -> '$es_snapshot_timeout'
           end,
    St1 = add_snapshot({es_state_init, Pid, erlang:monotonic_time(), Snap}, St),
    Hook = make_hook(self(), Behaviour),
    case catch sys:install(Pid, {Hook, none}, 1000) of
        ok -> {{ok, Pid, Behaviour}, St1#st{hooks = (St1#st.hooks)#{Pid => Hook}}};
        _ -> throw({error, {not_a_sys_process, Pid}})
    end.

behaviour(gen_server) -> gen_server;
behaviour(gen_statem) -> gen_statem;
behaviour(_) -> sys.

is_our_hook({F, _}) when is_function(F) ->
    erlang:fun_info(F, module) =:= {module, elixir_scope_agent};
is_our_hook({_Id, {F, _}}) when is_function(F) ->
    erlang:fun_info(F, module) =:= {module, elixir_scope_agent};
is_our_hook(_) ->
    false.

%% The hook runs inside the traced process on every debug event: it only remembers the incoming
%% message and sends one message per handled message. FunState is `none` or `[LastMessageIn]`: never
%% a 2-tuple, because sys reads a debug entry {Fun, {X, Y}} as an {Id, {Fun, State}} entry.
make_hook(Relay, gen_statem) ->
    fun(Last, Event, _ProcState) -> statem_event(Relay, Last, Event) end;
make_hook(Relay, _) ->
    fun(Last, Event, _ProcState) -> server_event(Relay, Last, Event) end.

server_event(_Relay, _Last, {in, Msg}) -> [Msg];
server_event(_Relay, _Last, {in, Msg, _From}) -> [Msg];
server_event(Relay, Last, {out, Reply, _To, State}) ->
    Relay ! {es_sys, self(), erlang:monotonic_time(), last(Last), {reply, Reply}, State},
    none;
server_event(Relay, Last, {noreply, State}) ->
    Relay ! {es_sys, self(), erlang:monotonic_time(), last(Last), noreply, State},
    none;
server_event(_Relay, Last, _Other) -> Last.

%% gen_statem (OTP 25) reports {in, Event, State} and, once the event is handled,
%% {consume, Event, State, NextState}; the data is not part of its debug events.
statem_event(Relay, _Last, {consume, Event, _From, Next}) ->
    Relay ! {es_sys, self(), erlang:monotonic_time(), Event, statem, Next},
    none;
statem_event(_Relay, _Last, {in, Event, _State}) -> [Event];
statem_event(_Relay, Last, _Other) -> Last.

last([Msg]) -> Msg;
last(_) -> '$es_unknown'.

%% ================================================================================================
%% LIMITS
%% ================================================================================================

trace_event(Ev, St) ->
    case relevant(Ev, St#st.patterns) of
        true ->
            {Ev2, Cut} = trunc_event(Ev, St#st.max_bytes),
            add_event(Ev2, element(tuple_size(Ev), Ev), Cut, St);
        drop_call ->
            %% Call events for patterns we did not set (another tool's, on a process we trace).
            St#st{dropped = bump(foreign, St#st.dropped)};
        false ->
            St#st{dropped = bump(own, St#st.dropped)}
    end.

relevant({trace_ts, _, call, {M, F, Args}, _}, Ps) -> our_mfa({M, F, length(Args)}, Ps);
relevant({trace_ts, _, call, {M, F, Args}, _, _}, Ps) -> our_mfa({M, F, length(Args)}, Ps);
relevant({trace_ts, _, return_from, Mfa, _, _}, Ps) -> our_mfa(Mfa, Ps);
relevant({trace_ts, _, exception_from, Mfa, _, _}, Ps) -> our_mfa(Mfa, Ps);
%% What traced processes send to the relay (the sys hook's reports) is our own doing.
relevant({trace_ts, _, send, _, To, _}, _) -> To =/= self();
relevant(_, _) -> true.

our_mfa(Mfa, Ps) ->
    case maps:is_key(Mfa, Ps) of
        true -> true;
        false -> drop_call
    end.

add_event(Ev, Ts, Cut, St) ->
    N = St#st.events + 1,
    {WS, WC} = case St#st.win_start of
                   WS0 when is_integer(WS0), Ts - WS0 < St#st.native_per_sec -> {WS0, St#st.win_count + 1};
                   _ -> {Ts, 1}
               end,
    NAcc = St#st.nacc + 1,
    St1 = St#st{events = N, acc = [Ev | St#st.acc], nacc = NAcc,
                truncated = St#st.truncated + Cut, win_start = WS, win_count = WC},
    if
        WC > St#st.max_rate -> limit(max_rate, St#st.max_rate, St1);
        N >= St#st.max_events -> limit(max_events, St#st.max_events, St1);
        NAcc >= St#st.batch -> check_mailbox(flush(St1));
        true -> St1
    end.

%% The initial snapshot: truncated like any state, counted as an event.
add_snapshot({es_state_init, Pid, Ts, State}, St) ->
    {S2, C} = trunc(State, St#st.max_bytes),
    St#st{events = St#st.events + 1, acc = [{es_state_init, Pid, Ts, S2} | St#st.acc],
          nacc = St#st.nacc + 1, truncated = St#st.truncated + C}.

check_mailbox(St) ->
    {message_queue_len, L} = erlang:process_info(self(), message_queue_len),
    case L > St#st.max_mailbox of
        true -> limit(max_mailbox, St#st.max_mailbox, St);
        false -> St
    end.

%% A limit was reached: tracing off first, then drain, say so as the last event, report, go.
limit(Name, Value, St) ->
    St1 = ast_end(untrace_all(St)),
    Reason = case Name of
                 max_mailbox -> max_mailbox;
                 _ -> after_stop
             end,
    St2 = drain(Reason, St1),
    St3 = final_flush(St2#st{acc = [{es_limit, erlang:monotonic_time(), Name, Value, stopped} | St2#st.acc]}),
    send_done({limit, Name, Value}, St3),
    reply_pending({error, {session_ended, {limit, Name, Value}}}),
    exit(normal).

%% Requests still queued when the relay ends on its own get an answer instead of a timeout.
reply_pending(Reply) ->
    receive
        {es_req, From, Ref, _} -> From ! {Ref, Reply}, reply_pending(Reply)
    after 0 -> ok
    end.

%% Trace messages generated before tracing went off may still be on their way:
%% erlang:trace_delivered/1 tells when they have all arrived. They are counted, not sent.
drain(Reason, St) ->
    Ref = erlang:trace_delivered(all),
    drain_loop(Ref, Reason, St).

drain_loop(Ref, Reason, St) ->
    receive
        {trace_delivered, all, Ref} -> drain_rest(Reason, St);
        M when is_tuple(M), (element(1, M) =:= trace_ts orelse element(1, M) =:= es_sys
                             orelse element(1, M) =:= es_ast) ->
            drain_loop(Ref, Reason, St#st{dropped = bump(Reason, St#st.dropped)})
    after 2000 ->
        drain_rest(Reason, St)
    end.

drain_rest(Reason, St) ->
    receive
        M when is_tuple(M), (element(1, M) =:= trace_ts orelse element(1, M) =:= es_sys
                             orelse element(1, M) =:= es_ast) ->
            drain_rest(Reason, St#st{dropped = bump(Reason, St#st.dropped)})
    after 0 -> St
    end.

bump(K, D) -> D#{K => maps:get(K, D, 0) + 1}.

stats(St) ->
    #{events => St#st.events, sent => St#st.sent, dropped => St#st.dropped,
      truncated => St#st.truncated, batches => St#st.batches}.

%% Closes the batch being built, if any, and sends what the link to the engine takes without
%% waiting. A congested link (the engine decodes slower than we trace) keeps batches here, retried on
%% every flush and tick; past max_mailbox events waiting, the oldest are dropped and counted
%% (`nosuspend`), so memory stays bounded and the relay never blocks.
flush(St) ->
    send_pending(close_batch(St)).

close_batch(#st{nacc = 0, acc = []} = St) ->
    St;
close_batch(St) ->
    Seq = St#st.seq + 1,
    Bin = term_to_binary(lists:reverse(St#st.acc)),
    St#st{seq = Seq, acc = [], nacc = 0,
          pending = St#st.pending ++ [{Seq, Bin, St#st.nacc}],
          pending_n = St#st.pending_n + St#st.nacc}.

send_pending(#st{pending = []} = St) ->
    St;
send_pending(#st{pending = [{Seq, Bin, N} | Rest]} = St) ->
    case send_engine({es_batch, self(), Seq, Bin}, St) of
        ok ->
            send_pending(St#st{pending = Rest, pending_n = St#st.pending_n - N,
                               sent = St#st.sent + N, batches = St#st.batches + 1});
        noconnect ->
            %% The engine's node is gone; its DOWN is on the way. Nothing can be delivered.
            Dropped = maps:update_with(noconnect, fun(C) -> C + St#st.pending_n end, St#st.pending_n, St#st.dropped),
            St#st{pending = [], pending_n = 0, dropped = Dropped};
        nosuspend ->
            shed(St)
    end.

shed(#st{pending = [{_, _, N} | Rest], pending_n = P} = St) when P > St#st.max_mailbox, Rest =/= [] ->
    Dropped = maps:update_with(nosuspend, fun(C) -> C + N end, N, St#st.dropped),
    shed(St#st{pending = Rest, pending_n = P - N, dropped = Dropped});
shed(St) ->
    St.

%% At the end of a session every waiting batch goes out, in order, before es_done: here the relay
%% may wait for the link (the engine asked to stop, or is being told of a limit, and is reading).
final_flush(St0) ->
    St = close_batch(St0),
    lists:foldl(fun({Seq, Bin, N}, S) ->
                        case erlang:send(S#st.engine, {es_batch, self(), Seq, Bin}, [noconnect]) of
                            ok -> S#st{sent = S#st.sent + N, batches = S#st.batches + 1};
                            _ -> S#st{dropped = maps:update_with(noconnect, fun(C) -> C + N end, N, S#st.dropped)}
                        end
                end, St#st{pending = [], pending_n = 0}, St#st.pending).

%% es_done must not be lost to a busy link: it is the engine's only sign that the session ended.
send_done(Reason, St) ->
    erlang:send(St#st.engine, {es_done, self(), Reason, stats(St)}, [noconnect]).

send_engine(Msg, St) ->
    erlang:send(St#st.engine, Msg, [noconnect, nosuspend]).

%% ================================================================================================
%% CLEANUP
%% ================================================================================================

%% Removes every trace flag, trace pattern and sys hook this relay set, and nothing else.
untrace_all(St) ->
    Self = self(),
    %% The default for new processes first, so nothing new starts while we look at the others.
    case St#st.new_flags andalso erlang:trace_info(new, tracer) =:= {tracer, Self} of
        true -> erlang:trace(new, false, [all]);
        false -> ok
    end,
    Candidates = case St#st.scan of
                     true -> erlang:processes();
                     false -> maps:keys(St#st.pids)
                 end,
    [catch erlang:trace(P, false, [all])
     || P <- Candidates, (catch erlang:trace_info(P, tracer)) =:= {tracer, Self}],
    [erlang:trace_pattern(Mfa, false, [local]) || Mfa <- maps:keys(St#st.patterns)],
    %% A process that is dead or busy does not stop the cleanup: it is asked once, with a timeout.
    [catch sys:remove(P, Hook, 1000) || {P, Hook} <- maps:to_list(St#st.hooks)],
    St#st{new_flags = false, pids = #{}, patterns = #{}, hooks = #{}, scan = false}.

%% The engine is gone (killed, disconnected): clean up, have the guardian unload the module once
%% we are gone (if no relay is left then), exit.
engine_down(St) ->
    ast_end(untrace_all(St)),
    St#st.guardian ! {es_guard_unload, self()},
    exit(normal).

%% The guardian: a second line of defence. It watches the relay and is told what the relay has set
%% (patterns and hooked pids). If the relay dies abnormally (killed, or a bug), it removes the relay's
%% trace patterns, the flags of processes still traced by it and its sys hooks itself. After any
%% relay death it may unload the module: when the relay asked (engine gone) or died abnormally, it
%% starts an unloader that waits for the guardian's own exit and then, if no relay of any version is
%% left, soft-purges, deletes and soft-purges the module.
%% Both are erl_eval funs started with erlang:apply/2: they run no code of this module, so they can
%% never be what keeps its old code in use.
guardian_source() ->
    "fun(Relay) ->"
    "  R = erlang:monitor(process, Relay),"
    "  Unloader = fun(Guardian) ->"
    "      G = erlang:monitor(process, Guardian),"
    "      receive {'DOWN', G, process, _, _} -> ok after 10000 -> ok end,"
    "      Relays = [P || P <- erlang:processes(),"
    "          erlang:process_info(P, initial_call) =:= {initial_call, {elixir_scope_agent, relay_init, 1}}],"
    "      case Relays of"
    "        [] -> code:soft_purge(elixir_scope_agent), code:delete(elixir_scope_agent),"
    "              code:soft_purge(elixir_scope_agent);"
    "        _ -> ok"
    "      end"
    "  end,"
    "  Ours = fun(F) -> is_function(F) andalso erlang:fun_info(F, module) =:= {module, elixir_scope_agent}"
    "                  andalso lists:member(Relay, element(2, erlang:fun_info(F, env))) end,"
    "  Clean = fun(Patterns, Hooked) ->"
    "      case erlang:trace_info(new, tracer) of {tracer, Relay} -> erlang:trace(new, false, [all]); _ -> ok end,"
    "      [catch erlang:trace(P, false, [all]) || P <- erlang:processes(),"
    "                                             (catch erlang:trace_info(P, tracer)) =:= {tracer, Relay}],"
    "      [catch erlang:trace_pattern(M, false, [local]) || M <- Patterns],"
    "      [case catch sys:get_status(P, 1000) of"
    "         {status, _, _, [_, _, _, Dbg | _]} when is_list(Dbg) ->"
    "             [catch sys:remove(P, F, 1000) || {F, _} <- Dbg, Ours(F)];"
    "         _ -> ok"
    "       end || P <- Hooked],"
    "      ok"
    "  end,"
    %% Instrumented modules the relay did not get back to their original: the probes are silenced
    %% first, then the original is loaded once no process runs the code it would replace (soft purge;
    %% retried every 200 ms, for as long as it takes: never a hard purge). A module whose code is
    %% neither ours nor the original any more was reloaded by someone else: it is left alone.
    "  RevertAst = fun RevertAst([]) -> ok;"
    "                  RevertAst(Left) ->"
    "      Rest = [A || {M, Orig, File, Md5B, Md5I} = A <- Left,"
    "                   begin"
    "                     case persistent_term:get({elixir_scope_ast, M}, undefined) of"
    "                       Relay -> persistent_term:erase({elixir_scope_ast, M});"
    "                       _ -> ok"
    "                     end,"
    "                     case catch erlang:get_module_info(M, md5) of"
    "                       Md5I ->"
    "                         case code:soft_purge(M) of"
    "                           true ->"
    "                             code:load_binary(M, File, Orig),"
    "                             code:soft_purge(M),"
    "                             catch erlang:get_module_info(M, md5) =/= Md5B;"
    "                           false -> true"
    "                         end;"
    "                       _ -> false"
    "                     end"
    "                   end],"
    "      case Rest of [] -> ok; _ -> receive after 200 -> ok end, RevertAst(Rest) end"
    "  end,"
    "  Loop = fun Loop(Patterns, Hooked, Ast, Unload) ->"
    "      receive"
    "        {es_guard, Relay, Ps, Hs} -> Loop(Ps, Hs, Ast, Unload);"
    "        {es_guard_ast, Relay, As} -> Loop(Patterns, Hooked, As, Unload);"
    "        {es_guard_unload, Relay} -> Loop(Patterns, Hooked, Ast, true);"
    "        {'DOWN', R, process, _, normal} ->"
    "            case Unload of true -> spawn(erlang, apply, [Unloader, [self()]]); false -> ok end,"
    "            RevertAst(Ast);"
    "        {'DOWN', R, process, _, _} ->"
    "            Clean(Patterns, Hooked),"
    "            spawn(erlang, apply, [Unloader, [self()]]),"
    "            RevertAst(Ast)"
    "      end"
    "  end,"
    "  Loop([], [], [], false)"
    " end.".

start_guardian() ->
    {ok, Toks, _} = erl_scan:string(guardian_source()),
    {ok, Exprs} = erl_parse:parse_exprs(Toks),
    {value, Fun, _} = erl_eval:exprs(Exprs, erl_eval:new_bindings()),
    spawn(erlang, apply, [Fun, [self()]]).

%% Tells the guardian what to undo should this relay die without cleaning up.
guard(St) ->
    St#st.guardian ! {es_guard, self(), maps:keys(St#st.patterns), maps:keys(St#st.hooks)},
    St#st.guardian ! {es_guard_ast, self(),
                      [{M, maps:get(original, I), maps:get(file, I), maps:get(md5_before, I), maps:get(md5_instrumented, I)}
                       || {M, I} <- maps:to_list(St#st.ast)]},
    St.

%% ================================================================================================
%% TRUNCATION
%% ================================================================================================

%% Only the payloads of an event can be big; pids, names and timestamps are left alone.
trunc_event({trace_ts, P, call, {M, F, Args}, Ts}, Max) ->
    {Args2, C} = trunc_elems(Args, Max),
    {{trace_ts, P, call, {M, F, Args2}, Ts}, C};
trunc_event({trace_ts, P, call, {M, F, Args}, Pam, Ts}, Max) ->
    {Args2, C1} = trunc_elems(Args, Max),
    {Pam2, C2} = trunc(Pam, Max),
    {{trace_ts, P, call, {M, F, Args2}, Pam2, Ts}, C1 + C2};
trunc_event({trace_ts, P, return_from, Mfa, Result, Ts}, Max) ->
    {R2, C} = trunc(Result, Max),
    {{trace_ts, P, return_from, Mfa, R2, Ts}, C};
trunc_event({trace_ts, P, exception_from, Mfa, {Class, Reason}, Ts}, Max) ->
    {R2, C} = trunc(Reason, Max),
    {{trace_ts, P, exception_from, Mfa, {Class, R2}, Ts}, C};
trunc_event({trace_ts, P, Kind, Msg, To, Ts}, Max) when Kind =:= send; Kind =:= send_to_non_existing_process ->
    {M2, C} = trunc(Msg, Max),
    {{trace_ts, P, Kind, M2, To, Ts}, C};
trunc_event({trace_ts, P, 'receive', Msg, Ts}, Max) ->
    {M2, C} = trunc(Msg, Max),
    {{trace_ts, P, 'receive', M2, Ts}, C};
trunc_event({trace_ts, P, Kind, Other, {M, F, Args}, Ts}, Max) when Kind =:= spawn; Kind =:= spawned ->
    {Args2, C} = trunc_elems(Args, Max),
    {{trace_ts, P, Kind, Other, {M, F, Args2}, Ts}, C};
trunc_event({trace_ts, P, exit, Reason, Ts}, Max) ->
    {R2, C} = trunc(Reason, Max),
    {{trace_ts, P, exit, R2, Ts}, C};
trunc_event(Ev, _Max) ->
    {Ev, 0}.

%% Each argument is a captured term of its own.
trunc_elems(L, Max) when is_list(L) ->
    case erlang:external_size(L) =< Max of
        true -> {L, 0};        % the common case: one size check for the whole list
        false ->
            lists:mapfoldl(fun(E, C) -> {E2, C2} = trunc(E, Max), {E2, C + C2} end, 0, L)
    end;
trunc_elems(Other, Max) ->
    trunc(Other, Max).

%% Immediates are always small; anything else is measured (external_size is a BIF, and the term is
%% already in our heap, so measuring costs at most what receiving it did).
trunc(T, _Max) when is_atom(T); is_pid(T); is_port(T); is_reference(T); is_float(T) ->
    {T, 0};
trunc(T, Max) when is_integer(T), T < 16#7ffffff, T > -16#7ffffff, Max >= 8 ->
    {T, 0};
trunc(T, Max) ->
    case erlang:external_size(T) of
        S when S =< Max -> {T, 0};
        S -> {{'$es_truncated', S, keep(T, Max)}, 1}
    end.

%% What is kept of a cut term: a prefix, at most about half of the budget, so the marker plus what
%% is kept stays near max_term_bytes.
keep(T, Max) when is_binary(T) ->
    binary:part(T, 0, min(byte_size(T), max(0, Max div 2)));
keep(T, Max) when is_list(T) ->
    take_elems(T, Max div 2, 0, []);
keep(T, Max) when is_tuple(T) ->
    list_to_tuple(take_elems(tuple_to_list(T), Max div 2, 0, []));
keep(_T, _Max) ->
    '$es_cut'.

%% At most 1000 elements and Budget bytes; an improper tail or a too-big element ends the prefix.
take_elems([E | Rest], Budget, N, Acc) when N < 1000 ->
    S = erlang:external_size(E),
    case S =< Budget of
        true -> take_elems(Rest, Budget - S, N + 1, [E | Acc]);
        false -> lists:reverse(Acc)
    end;
take_elems(_, _, _, Acc) ->
    lists:reverse(Acc).

%% ================================================================================================
%% AST INSTRUMENTATION (docs/ast.md)
%% ================================================================================================
%%
%% ast_source/2 and instrument/3 run in the engine's rpc worker: parsing and compiling can take
%% seconds and must never hold up the relay. Only loading and reverting happen in the relay, which
%% owns what it loaded: at every end of its session it puts the originals back, and its guardian
%% does it if the relay dies. Instrumented code never calls this module: a probe reads
%% persistent_term {elixir_scope_ast, Mod} (the relay's pid) and sends to it, so this module can
%% be purged while instrumented code still runs.

%% The quoted form of an Elixir module, from its source file (or text the engine read from a local
%% project), else from the debug_info chunk of its .beam.
ast_source(ModBin, Opts) when is_binary(ModBin), is_map(Opts) ->
    try ast_source_(ModBin, Opts)
    catch throw:{error, _} = E -> E
    end;
ast_source(ModBin, Opts) ->
    {error, {badarg, [ModBin, Opts]}}.

ast_source_(ModBin, Opts) ->
    Mod = elixir_module(ModBin),
    Md5 = erlang:get_module_info(Mod, md5),
    Beam = beam_path(Mod),
    Src = source_path(Mod),
    Base = #{module => Mod, md5 => Md5, beam => Beam},
    case maps:find(source_text, Opts) of
        {ok, Text} when is_binary(Text) ->
            File = case maps:find(file, Opts) of
                       {ok, F} when is_binary(F) -> F;
                       _ when Src =/= undefined -> Src;
                       _ -> <<"nofile">>
                   end,
            from_source(Mod, Text, File, Opts, Base);
        {ok, Other} ->
            {error, {badarg, [#{source_text => Other}]}};
        error ->
            case Src =/= undefined andalso file:read_file(Src) of
                {ok, Text} -> from_source(Mod, Text, Src, Opts, Base);
                _ -> from_debug_info(Mod, Src, Beam, Base)
            end
    end.

%% An existing, loadable Elixir module, or a throw. Never creates an atom.
elixir_module(ModBin) ->
    Mod = case existing_atom(ModBin) of
              {ok, M} -> M;
              error -> throw({error, {unknown_module, ModBin}})
          end,
    case code:ensure_loaded(Mod) of
        {module, Mod} -> ok;
        _ -> throw({error, {unknown_module, ModBin}})
    end,
    case erlang:function_exported(Mod, '__info__', 1) of
        true -> Mod;
        false -> throw({error, {not_elixir, Mod}})
    end.

beam_path(Mod) ->
    case code:which(Mod) of
        P when is_list(P) ->
            case filelib:is_regular(P) of
                true -> unicode:characters_to_binary(P);
                false -> in_memory
            end;
        _ -> in_memory
    end.

source_path(Mod) ->
    case lists:keyfind(source, 1, Mod:module_info(compile)) of
        {source, S} when is_list(S) -> unicode:characters_to_binary(S);
        _ -> undefined
    end.

from_source(Mod, Text, File, Opts, Base) ->
    ParseOpts = [{columns, true}, {token_metadata, true}, {file, File}],
    case 'Elixir.Code':string_to_quoted(Text, ParseOpts) of
        {ok, Quoted} ->
            case find_defmodule(Quoted, Mod) of
                {ok, Def} ->
                    Matches = case maps:get(verify, Opts, true) of
                                  false -> unknown;
                                  _ -> verify_source(Mod, Text, File, maps:get(md5, Base))
                              end,
                    {ok, Base#{origin => source, file => File, quoted => Def, source_matches => Matches}};
                error ->
                    {error, {module_not_in_source, Mod, File}}
            end;
        {error, {Meta, Msg, Token}} ->
            {error, {parse_failed, File, #{meta => Meta, message => chardata(Msg), token => chardata(Token)}}}
    end.

chardata(X) when is_binary(X) -> X;
chardata(X) when is_list(X) ->
    case unicode:characters_to_binary(X) of
        B when is_binary(B) -> B;
        _ -> list_to_binary(io_lib:format("~p", [X]))
    end;
chardata(X) -> list_to_binary(io_lib:format("~p", [X])).

from_debug_info(Mod, Src, Beam, Base) ->
    Obj = case Beam of
              in_memory ->
                  case code:get_object_code(Mod) of
                      {Mod, Bin, _} -> Bin;
                      error -> none
                  end;
              Path -> binary_to_list(Path)
          end,
    Chunk = case Obj of
                none -> missing;
                _ -> case beam_lib:chunks(Obj, [debug_info]) of
                         {ok, {_, [{debug_info, {debug_info_v1, Backend, Data}}]}} -> {Backend, Data};
                         _ -> missing
                     end
            end,
    Info = case Chunk of
               missing -> missing;
               {_, none} -> stripped;
               {B, D} ->
                   case catch B:debug_info(elixir_v1, Mod, D, []) of
                       {ok, M} when is_map(M) -> M;
                       _ -> stripped
                   end
           end,
    case Info of
        _ when is_map(Info) ->
            File = case maps:get(file, Info, undefined) of
                       F when is_binary(F) -> F;
                       F when is_list(F) -> unicode:characters_to_binary(F);
                       _ -> nil
                   end,
            {ok, maps:merge(Info, Base#{origin => debug_info, file => File})};
        Why ->
            {error, {no_source, #{module => Mod, file => case Src of undefined -> nil; _ -> Src end,
                                  debug_info => Why, beam => Beam}}}
    end.

%% The defmodule of Mod anywhere in a file's quoted form. A nested module is returned with its full
%% name (the aliases of the enclosing module do not come with it); modules nested in it are
%% replaced by an alias of their name, so compiling it never (re)defines another module.
find_defmodule(Q, Mod) ->
    try walk_defmodules(Q, [], atom_to_binary(Mod, utf8)), error
    catch throw:{found, D} -> {ok, D}
    end.

walk_defmodules({defmodule, Meta, [Alias, [{do, Body}]]}, Outer, Want) when is_list(Meta) ->
    case module_parts(Alias, Outer) of
        {ok, Parts} ->
            case parts_name(Parts) =:= Want of
                true ->
                    NewAlias = case Outer of
                                   [] -> Alias;
                                   _ -> binary_to_existing_atom(Want, utf8)
                               end,
                    throw({found, {defmodule, Meta, [NewAlias, [{do, unnest(Body, Parts)}]]}});
                false ->
                    walk_defmodules(Body, Parts, Want)
            end;
        error ->
            walk_defmodules(Body, Outer, Want)
    end;
%% `defimpl Proto, for: X` defines Proto.X (Module.concat): found by that name and returned as the
%% defimpl it is (with `for:` filled in when it was the enclosing module), since a defmodule of that
%% name would lack what defimpl adds. A defprotocol is found like a defmodule.
walk_defmodules({defimpl, Meta, [Proto | Rest]}, Outer, Want) when is_list(Meta) ->
    case impl_parts(Proto, Rest, Outer) of
        {ok, Parts, Opts, Body} ->
            case parts_name(Parts) =:= Want of
                true -> throw({found, {defimpl, Meta, [Proto, Opts, [{do, unnest(Body, Parts)}]]}});
                false -> walk_defmodules(Body, Parts, Want)
            end;
        error ->
            ok
    end;
walk_defmodules({defprotocol, Meta, [Alias, [{do, Body}]]} = D, Outer, Want) when is_list(Meta) ->
    case module_parts(Alias, Outer) of
        {ok, Parts} ->
            case parts_name(Parts) =:= Want of
                true -> throw({found, D});
                false -> walk_defmodules(Body, Parts, Want)
            end;
        error ->
            ok
    end;
walk_defmodules(T, Outer, Want) when is_tuple(T) ->
    [walk_defmodules(E, Outer, Want) || E <- tuple_to_list(T)], ok;
walk_defmodules(L, Outer, Want) when is_list(L) ->
    [walk_defmodules(E, Outer, Want) || E <- L], ok;
walk_defmodules(_, _, _) ->
    ok.

%% The name of a defmodule's alias as a list of existing atoms: ['Elixir', 'Shop', 'Cart'].
module_parts({'__aliases__', _, [H | _] = Parts}, Outer) ->
    case lists:all(fun is_atom/1, Parts) of
        false -> error;
        true when H =:= 'Elixir' -> {ok, Parts};
        true when Outer =:= [] -> {ok, ['Elixir' | Parts]};
        true -> {ok, Outer ++ Parts}
    end;
module_parts(A, _Outer) when is_atom(A), A =/= nil ->
    {ok, [A]};
module_parts(_, _) ->
    error.

%% The module a defimpl defines, its options with `for:` and its body. `for: [A, B]` defines several
%% modules: not one to instrument.
impl_parts(Proto, [Opts, [{do, Body}]], Outer) when is_list(Opts) -> impl_parts(Proto, Opts, Body, Outer);
impl_parts(Proto, [Kw], Outer) when is_list(Kw) ->
    case lists:keyfind(do, 1, Kw) of
        {do, Body} -> impl_parts(Proto, lists:keydelete(do, 1, Kw), Body, Outer);
        false -> error
    end;
impl_parts(_, _, _) -> error.

impl_parts(Proto, Opts, Body, Outer) ->
    For = case lists:keyfind(for, 1, Opts) of
              {for, F} -> module_parts(F, []);
              false when Outer =/= [] -> {ok, Outer};
              false -> error
          end,
    case {module_parts(Proto, []), For} of
        {{ok, P}, {ok, ['Elixir' | FRest]}} ->
            ForOpt = case lists:keymember(for, 1, Opts) of
                         true -> Opts;
                         false -> [{for, binary_to_existing_atom(parts_name(Outer), utf8)} | Opts]
                     end,
            {ok, P ++ FRest, ForOpt, Body};
        _ ->
            error
    end.

parts_name([A]) -> atom_to_binary(A, utf8);
parts_name(Parts) -> iolist_to_binary(lists:join(<<".">>, [atom_to_binary(P, utf8) || P <- Parts])).

unnest({defmodule, Meta, [Alias, [{do, _}]]} = D, Outer) when is_list(Meta) ->
    case module_parts(Alias, Outer) of
        {ok, ['Elixir' | Rest]} -> {alias, Meta, [{'__aliases__', [], Rest}, [{warn, false}]]};
        _ -> D
    end;
unnest(T, Outer) when is_tuple(T) -> list_to_tuple([unnest(E, Outer) || E <- tuple_to_list(T)]);
unnest(L, Outer) when is_list(L) -> [unnest(E, Outer) || E <- L];
unnest(X, _) -> X.

%% Whether the source is what the loaded code was compiled from. The unmodified quoted form is
%% compiled (not loaded) and compared with the loaded module's object code:
%% The check compiles the source as elixirc reads it, without column metadata: `quote` keeps its
%% metadata in the code as a literal (defguard, macros), so a parse with columns gives another md5.
verify_source(Mod, Text, File, LoadedMd5) ->
    case 'Elixir.Code':string_to_quoted(Text, [{file, File}]) of
        {ok, Quoted} ->
            case find_defmodule(Quoted, Mod) of
                {ok, Def} -> source_matches(Mod, Def, File, LoadedMd5);
                error -> unknown
            end;
        _ -> unknown
    end.

%%   * true: same md5 and the same line table (the md5 covers the code but not the line numbers, so
%%     a source with lines moved gives the same md5 and would put probes on the wrong lines);
%%   * unknown: only literals and fun hashes differ. Mix compiles with settings this node does not
%%     have (Logger macros put the file path relative to Mix's working directory and the application
%%     into literals), so the same source can give another md5. Also unknown when the loaded code's
%%     .beam is not available to compare with, or the source does not compile here;
%%   * false: the code or its lines differ: the source was edited since.
source_matches(Mod, Def, File, LoadedMd5) ->
    case compile_quoted(Mod, Def, File) of
        {ok, Bin, _Warnings} ->
            {ok, {_, Md5}} = beam_lib:md5(Bin),
            Orig = case code:get_object_code(Mod) of
                       {Mod, O, _} ->
                           case beam_lib:md5(O) of
                               {ok, {_, LoadedMd5}} -> O;
                               _ -> none
                           end;
                       error -> none
                   end,
            if
                Orig =:= none -> unknown;
                true ->
                    SameLines = line_items(Orig) =:= line_items(Bin),
                    if
                        not SameLines -> false;
                        Md5 =:= LoadedMd5 -> true;
                        true ->
                            case code_shape(Orig) =:= code_shape(Bin) of
                                true -> unknown;
                                false -> false
                            end
                    end
            end;
        {error, _} ->
            unknown
    end.

%% The line table of a .beam ("Line" chunk) without its file names: the line of every location, and
%% the file changes between them (as indexes), in order. Format: beam_asm:build_line_table/1.
line_items(Bin) ->
    case beam_lib:chunks(Bin, ["Line"]) of
        {ok, {_, [{"Line", <<_Ver:32, _Bits:32, _NumInstrs:32, NumLines:32, _NumFnames:32, Rest/binary>>}]}} ->
            line_items(Rest, NumLines, []);
        _ -> none
    end.

line_items(_, 0, Acc) ->
    lists:reverse(Acc);
line_items(Bin, N, Acc) ->
    case compact_term(Bin) of
        {1, Line, Rest} -> line_items(Rest, N - 1, [Line | Acc]);      % tag_i: a line
        {2, File, Rest} -> line_items(Rest, N, [{file, File} | Acc]);  % tag_a: a file index
        _ -> {bad_line_table, lists:reverse(Acc)}
    end.

%% One value of the BEAM's compact term encoding: {Tag, Value, Rest}.
compact_term(<<B, R/binary>>) when B band 8 =:= 0 ->
    {B band 7, B bsr 4, R};
compact_term(<<B, B2, R/binary>>) when B band 16#10 =:= 0 ->
    {B band 7, ((B band 16#E0) bsl 3) bor B2, R};
compact_term(<<B, R/binary>>) when (B bsr 5) < 7 ->
    N = (B bsr 5) + 2,
    case R of
        <<V:N/signed-unit:8, R2/binary>> -> {B band 7, V, R2};
        _ -> bad
    end;
compact_term(_) ->
    bad.

code_shape(Bin) ->
    case beam_disasm:file(Bin) of
        {beam_file, M, Exports, _Attr, _CInfo, Code} -> {M, lists:sort(Exports), mask(Code)};
        Other -> Other
    end.

mask({literal, _}) -> literal;
mask({make_fun3, F, I, _Uniq, D, Fv}) -> {make_fun3, F, I, 0, D, mask(Fv)};
mask(T) when is_tuple(T) -> list_to_tuple([mask(E) || E <- tuple_to_list(T)]);
mask(L) when is_list(L) -> [mask(E) || E <- L];
mask(X) -> X.

%% Compiles a quoted defmodule without loading it (@compile {:autoload, false} in its body), with
%% Elixir's "redefining module" check off for the duration (restored after, one compilation at a
%% time on this node). Warnings are collected as Kernel.ParallelCompiler does (elixir_compiler_info)
%% and returned. Elixir 1.14 also prints them on the node's stderr; it has no way to stop that.
compile_quoted(Mod, {defmodule, Meta, [Alias, [{do, Body}]]}, File) when is_binary(File) ->
    Def = {defmodule, Meta, [Alias, [{do, no_autoload(Body)}]]},
    global:trans({elixir_scope_ast_compile, self()},
                 fun() -> compile_isolated(Mod, Def, File) end, [node()]);
%% A protocol implementation, as find_defmodule returns it: its body becomes the module's body.
compile_quoted(Mod, {defimpl, Meta, [Proto, Opts, [{do, Body}]]}, File) when is_binary(File), is_list(Opts) ->
    Def = {defimpl, Meta, [Proto, Opts, [{do, no_autoload(Body)}]]},
    global:trans({elixir_scope_ast_compile, self()},
                 fun() -> compile_isolated(Mod, Def, File) end, [node()]);
compile_quoted(Mod, _Other, _File) ->
    {error, {bad_quoted, Mod, <<"expected a single {:defmodule, meta, [alias, [do: body]]}">>}}.

no_autoload(Body) ->
    Attr = {'@', [], [{compile, [], [{autoload, false}]}]},
    case Body of
        {'__block__', BM, Items} when is_list(Items) -> {'__block__', BM, [Attr | Items]};
        _ -> {'__block__', [], [Attr, Body]}
    end.

compile_isolated(Mod, Def, File) ->
    Old = 'Elixir.Code':get_compiler_option(ignore_module_conflict),
    'Elixir.Code':put_compiler_option(ignore_module_conflict, true),
    Self = self(),
    Ref = make_ref(),
    try
        {Pid, MRef} = spawn_monitor(fun() ->
            put(elixir_compiler_info, {Self, self()}),
            R = try {ok, 'Elixir.Code':compile_quoted(Def, File)}
                catch Class:Reason -> {failed, Class, Reason}
                end,
            Self ! {Ref, result, R}
        end),
        collect_compile(Mod, Pid, MRef, Ref, [])
    after
        'Elixir.Code':put_compiler_option(ignore_module_conflict, Old)
    end.

collect_compile(Mod, Pid, MRef, Ref, Warnings) ->
    receive
        {warning, File, Position, Message} ->
            W = #{file => chardata(File), position => Position, message => chardata(Message)},
            collect_compile(Mod, Pid, MRef, Ref, [W | Warnings]);
        {module_available, From, ARef, _File, _M, _Bin} ->
            From ! {ARef, ack},
            collect_compile(Mod, Pid, MRef, Ref, Warnings);
        {waiting, _Kind, From, WRef, _FilePid, _M, _Modules, _Deadlock} ->
            %% A module the code needs is not loaded: nothing else is being compiled that could define it.
            From ! {WRef, not_found},
            collect_compile(Mod, Pid, MRef, Ref, Warnings);
        {Ref, result, R} ->
            erlang:demonitor(MRef, [flush]),
            Ws = lists:reverse(Warnings),
            case R of
                {ok, Mods} ->
                    case lists:keyfind(Mod, 1, Mods) of
                        {Mod, Bin} when length(Mods) =:= 1 -> {ok, Bin, Ws};
                        _ -> {error, {wrong_modules, [M || {M, _} <- Mods]}}
                    end;
                {failed, Class, Reason} ->
                    {error, #{class => Class, message => exception_text(Class, Reason), warnings => Ws}}
            end;
        {'DOWN', MRef, process, Pid, Why} ->
            {error, #{class => exit, message => chardata(io_lib:format("~p", [Why])), warnings => lists:reverse(Warnings)}}
    after 120000 ->
        exit(Pid, kill),
        {error, #{class => exit, message => <<"compilation took more than 120 s">>, warnings => lists:reverse(Warnings)}}
    end.

exception_text(error, #{'__exception__' := true} = E) ->
    try chardata('Elixir.Exception':message(E))
    catch _:_ -> chardata(io_lib:format("~p", [E]))
    end;
exception_text(_, Reason) ->
    chardata(io_lib:format("~p", [Reason])).

%% Compiles instrumented modules here (in the caller) and has the relay load them.
%% Items: [#{module := Bin, quoted := Quoted}].
instrument(Relay, Items, Opts) when is_pid(Relay), is_list(Items), is_map(Opts) ->
    try
        Prepared = [prepare(Relay, I) || I <- Items],
        Loads = [maps:remove(warnings, P) || P <- Prepared],
        case request(Relay, {ast_load, Loads}, maps:get(timeout, Opts, 10000)) of
            {ok, Loaded} ->
                Ws = maps:from_list([{maps:get(module, P), maps:get(warnings, P)} || P <- Prepared]),
                {ok, [L#{warnings => maps:get(maps:get(module, L), Ws, [])} || L <- Loaded]};
            Other -> Other
        end
    catch throw:{error, _} = E -> E
    end;
instrument(Relay, Items, Opts) ->
    {error, {badarg, [Relay, Items, Opts]}}.

prepare(Relay, #{module := Bin, quoted := Q}) when is_binary(Bin) ->
    Mod = elixir_module(Bin),
    %% Instrumented by this same session already: the relay holds the original and swaps the
    %% instrumentation (a new plan). By anyone else: theirs.
    {Orig, Md5, File} =
        case persistent_term:get({elixir_scope_ast, Mod}, undefined) of
            undefined -> original(Mod);
            Relay -> {replace, replace, replace};
            _ -> throw({error, {already_instrumented, Mod}})
        end,
    SrcFile = case source_path(Mod) of
                  undefined -> <<"nofile">>;
                  S -> S
              end,
    case no_nested_module(Q) of
        true -> ok;
        false -> throw({error, {bad_quoted, Mod, <<"defines another module inside it">>}})
    end,
    case compile_quoted(Mod, Q, SrcFile) of
        {ok, Instr, Warnings} ->
            {ok, {_, Md5I}} = beam_lib:md5(Instr),
            #{module => Mod, file => File, original => Orig, md5_before => Md5,
              instrumented => Instr, md5_instrumented => Md5I, warnings => Warnings};
        {error, {bad_quoted, _, _} = E} -> throw({error, E});
        {error, Diagnostics} -> throw({error, {compile_failed, Mod, Diagnostics}})
    end;
prepare(_Relay, Other) ->
    throw({error, {bad_item, Other}}).

%% The exact original is what makes an exact revert possible: without it, refuse.
original(Mod) ->
    Md5 = erlang:get_module_info(Mod, md5),
    {Orig, ObjFile} = case code:get_object_code(Mod) of
                          {Mod, O, F} ->
                              case beam_lib:md5(O) of
                                  {ok, {_, Md5}} -> {O, F};
                                  _ -> throw({error, {original_unavailable, Mod, md5_differs}})
                              end;
                          error -> throw({error, {original_unavailable, Mod, no_object_code}})
                      end,
    File = case code:which(Mod) of
               W when is_list(W) -> W;
               _ -> ObjFile
           end,
    {Orig, Md5, File}.

no_nested_module({defmodule, _, [_, [{do, Body}]]}) -> not has_defmodule(Body);
no_nested_module({defimpl, _, [_, _, [{do, Body}]]}) -> not has_defmodule(Body);
no_nested_module(_) -> true.   % compile_quoted refuses anything else

has_defmodule({defmodule, M, [_, _]}) when is_list(M) -> true;
has_defmodule(T) when is_tuple(T) -> lists:any(fun has_defmodule/1, tuple_to_list(T));
has_defmodule(L) when is_list(L) -> lists:any(fun has_defmodule/1, L);
has_defmodule(_) -> false.

%% In the relay: every module is checked before any is loaded.
ast_load(Items, St) ->
    Mods = [maps:get(module, I, undefined) || I <- Items, is_map(I)],
    case length(lists:usort(Mods)) =:= length(Items) of
        true -> ok;
        false -> throw({error, {bad_item, duplicate_or_malformed}})
    end,
    [ast_check_load(I, St) || I <- Items],
    load_all(Items, [], St).

load_all([], Acc, St) ->
    {{ok, lists:reverse(Acc)}, St};
load_all([#{module := Mod, file := File0, instrumented := Instr} = I | Rest], Acc, St) ->
    %% A replacement keeps the original, its file name and md5 from the first instrumentation.
    Info0 = case maps:find(Mod, St#st.ast) of
                {ok, Prev} -> Prev;
                error -> maps:with([original, file, md5_before], I)
            end,
    File = case File0 of
               replace -> maps:get(file, Info0);
               _ -> File0
           end,
    case code:load_binary(Mod, File, Instr) of
        {module, Mod} ->
            persistent_term:put({elixir_scope_ast, Mod}, self()),
            Md5I = erlang:get_module_info(Mod, md5),
            St1 = St#st{ast = (St#st.ast)#{Mod => Info0#{md5_instrumented => Md5I}}},
            load_all(Rest, [#{module => Mod, md5_before => maps:get(md5_before, Info0), md5_instrumented => Md5I} | Acc], St1);
        Error ->
            %% The modules of this request go back to their originals; they had no time to be used.
            {_, _, St1} = revert_mods([maps:get(module, L) || L <- Acc], 1, St),
            {{error, {load_failed, Mod, Error}}, St1}
    end.

%% Checks one module before anything is loaded; throws a refusal.
ast_check_load(#{module := Mod, md5_before := Md5Given}, St) ->
    Mine = maps:find(Mod, St#st.ast),
    Owner = persistent_term:get({elixir_scope_ast, Mod}, undefined),
    Expected = case {Mine, Md5Given} of
                   {{ok, #{md5_instrumented := Md5I}}, replace} -> Md5I;
                   {error, replace} -> throw({error, {not_instrumented, atom_to_binary(Mod, utf8)}});
                   {error, _} when Owner =:= undefined -> Md5Given;
                   _ -> throw({error, {already_instrumented, Mod}})
               end,
    case erlang:get_module_info(Mod, md5) of
        Expected -> ok;
        _ -> throw({error, {original_unavailable, Mod, reloaded}})
    end,
    %% load_binary would kill processes still in the old code; only a soft purge is ours to do.
    case code:soft_purge(Mod) of
        true -> ok;
        false -> throw({error, {old_code_in_use, Mod, old_code_users(Mod)}})
    end,
    %% Processes in the current code would be left in it as old code by the load, and that old code
    %% would block the exact revert later: refuse now, naming them.
    case current_code_users(Mod) of
        [] -> ok;
        Users -> throw({error, {module_in_use, Mod, Users}})
    end;
ast_check_load(Other, _St) ->
    throw({error, {bad_item, Other}}).

old_code_users(Mod) ->
    [{P, current_function(P)} || P <- erlang:processes(), P =/= self(),
                                  (catch erlang:check_process_code(P, Mod)) =:= true].

current_code_users(Mod) ->
    lists:filtermap(
      fun(P) when P =:= self() -> false;
         (P) ->
              case erlang:process_info(P, current_stacktrace) of
                  {current_stacktrace, Frames} ->
                      case [{M, F, A} || {M, F, A, _} <- Frames, M =:= Mod] of
                          [Mfa | _] -> {true, {P, Mfa}};
                          [] -> false
                      end;
                  _ -> false
              end
      end, erlang:processes()).

current_function(P) ->
    case erlang:process_info(P, current_function) of
        {current_function, Mfa} -> Mfa;
        _ -> undefined
    end.

%% {ast_revert, all | [ModBin]}.
ast_revert(Which, St) ->
    Mods = case Which of
               all -> maps:keys(St#st.ast);
               L when is_list(L) -> [instrumented_mod(B, St) || B <- L];
               _ -> throw({error, {bad_request, {ast_revert, Which}}})
           end,
    {Done, Blocked, St1} = revert_mods(Mods, 5, St),
    St2 = guard(schedule_retry(St1)),
    case Blocked of
        [] -> {{ok, Done}, St2};
        [{Mod, Users} | _] -> {{error, {revert_blocked, Mod, Users}}, St2}
    end.

instrumented_mod(B, St) when is_binary(B) ->
    case [M || M <- maps:keys(St#st.ast), atom_to_binary(M, utf8) =:= B] of
        [M] -> M;
        [] -> throw({error, {not_instrumented, B}})
    end;
instrumented_mod(Other, _) ->
    throw({error, {bad_request, {ast_revert, Other}}}).

%% Puts the originals back. Probes go quiet first (persistent term erased), then each original is
%% loaded once a soft purge succeeds, trying Attempts times 200 ms apart. Returns what was reverted,
%% what is still blocked (with the processes in the way), and the state: blocked modules stay in
%% `ast` and `ast_blocked`.
revert_mods(Mods, Attempts, St) ->
    revert_mods(Mods, Attempts, St, []).

revert_mods(Mods, Attempts, St, Done) ->
    {Done1, Left, St1} = lists:foldl(
        fun(Mod, {D, L, S}) ->
                case revert_one(Mod, maps:get(Mod, S#st.ast)) of
                    {ok, Md5} ->
                        {[#{module => Mod, md5 => Md5} | D], L,
                         S#st{ast = maps:remove(Mod, S#st.ast), ast_blocked = maps:remove(Mod, S#st.ast_blocked)}};
                    blocked ->
                        {D, [Mod | L], S}
                end
        end, {Done, [], St}, Mods),
    case Left of
        [] -> {lists:reverse(Done1), [], St1};
        _ when Attempts > 1 ->
            receive after 200 -> ok end,
            revert_mods(lists:reverse(Left), Attempts - 1, St1, Done1);
        _ ->
            Blocked = [{M, old_code_users(M)} || M <- lists:reverse(Left)],
            St2 = St1#st{ast_blocked = maps:merge(St1#st.ast_blocked, maps:from_list([{M, true} || M <- Left]))},
            {lists:reverse(Done1), Blocked, St2}
    end.

revert_one(Mod, #{original := Orig, file := File, md5_instrumented := Md5I}) ->
    case persistent_term:get({elixir_scope_ast, Mod}, undefined) =:= self() of
        true -> persistent_term:erase({elixir_scope_ast, Mod});
        false -> ok
    end,
    case erlang:get_module_info(Mod, md5) of
        Md5I ->
            case code:soft_purge(Mod) of
                true ->
                    {module, Mod} = code:load_binary(Mod, File, Orig),
                    %% Processes still in the instrumented code keep it as old code; it sends nothing
                    %% any more. Purge it now if nobody is in it.
                    _ = code:soft_purge(Mod),
                    {ok, erlang:get_module_info(Mod, md5)};
                false ->
                    blocked
            end;
        Other ->
            %% Someone else loaded another version meanwhile (a deploy, a recompile): theirs stays.
            {ok, Other}
    end.

schedule_retry(#st{ast_timer = undefined} = St) when map_size(St#st.ast_blocked) > 0 ->
    St#st{ast_timer = erlang:start_timer(250, self(), es_ast_retry)};
schedule_retry(St) ->
    St.

ast_retry(St) ->
    {_, _, St1} = revert_mods(maps:keys(St#st.ast_blocked), 1, St),
    guard(schedule_retry(St1)).

%% At the end of a session (stop, a limit, the engine gone): everything goes back; what is still
%% blocked after about a second is left to the guardian, which keeps trying after we exit.
ast_end(#st{ast = Ast} = St) when map_size(Ast) =:= 0 ->
    St;
ast_end(St) ->
    {_, _, St1} = revert_mods(maps:keys(St#st.ast), 5, St),
    guard(St1).

%% What is instrumented on this node, by any session: [#{module, relay, md5_before}].
instrumented() ->
    Owned = [{M, R} || {{elixir_scope_ast, M}, R} <- persistent_term:get(), is_pid(R)],
    Relays = lists:usort([R || {_, R} <- Owned]),
    Known = lists:append([case request(R, ast_list, 2000) of
                              {ok, L} -> [{maps:get(module, I), I#{relay => R}} || I <- L];
                              _ -> []
                          end || R <- Relays]),
    [case lists:keyfind(M, 1, Known) of
         {M, I} -> I;
         false -> #{module => M, relay => R, md5_before => unknown, blocked => false}
     end || {M, R} <- Owned].

%% Asks the owning relays to revert: Which = all | [ModBin]. For a second engine when the session
%% that instrumented them is stuck.
revert_all(Which) ->
    try revert_all_(Which)
    catch throw:{error, _} = E -> E
    end.

revert_all_(Which) ->
    Owned = [{M, R} || {{elixir_scope_ast, M}, R} <- persistent_term:get(), is_pid(R)],
    Selected = case Which of
                   all -> Owned;
                   L when is_list(L) ->
                       Bins = [B || B <- L, is_binary(B)],
                       [case [O || {M, _} = O <- Owned, atom_to_binary(M, utf8) =:= B] of
                            [O] -> O;
                            [] -> throw({error, {not_instrumented, B}})
                        end || B <- Bins];
                   _ -> throw({error, {badarg, [Which]}})
               end,
    ByRelay = lists:foldl(fun({M, R}, Acc) -> maps:update_with(R, fun(Ms) -> [M | Ms] end, [M], Acc) end,
                          #{}, Selected),
    Results = [{R, request(R, {ast_revert, [atom_to_binary(M, utf8) || M <- Ms]}, 10000)}
               || {R, Ms} <- maps:to_list(ByRelay)],
    case [E || {_, {error, _} = E} <- Results] of
        [] -> {ok, lists:append([Done || {_, {ok, Done}} <- Results])};
        [E | _] -> E
    end.

%% ================================================================================================
%% SUPERVISION TREE
%% ================================================================================================
%% What the Cinema groups processes by: for each running application, its top supervisor (from the
%% application master) and, recursively, what each supervisor says its children are.
%%
%%   {ok, #{entries := [#{app, pid, parent, id, type, name} | ...], truncated := false}} =
%%       elixir_scope_agent:supervision_tree(#{timeout => 500, max_entries => 20000, budget_ms => 5000}).
%%
%% Why it is safe on a live node: it only reads. The only messages it sends are the calls a
%% supervisor answers by contract (count_children, which_children) and application_master's own
%% get_child, each with a timeout, so a busy or suspended supervisor costs at most `timeout` ms and is
%% marked skipped instead of waited for (late replies go to a dead alias or a killed helper). A
%% process is asked only when its '$initial_call' says it is a supervisor (a worker that is not one
%% could crash on a call it does not expect), and not when its mailbox is long or its status is
%% suspended. Every supervisor's children are counted before they are listed, so the answer never
%% grows past max_entries; the whole walk stops asking once budget_ms has passed.

supervision_tree(Opts) when is_map(Opts) ->
    Get = fun(K, D) -> maps:get(K, Opts, D) end,
    Vals = [{timeout, Get(timeout, 500)}, {max_entries, Get(max_entries, 20000)}, {budget_ms, Get(budget_ms, 5000)}],
    case [K || {K, V} <- Vals, not (is_integer(V) andalso V > 0)] of
        [] ->
            [{_, T}, {_, Max}, {_, Budget}] = Vals,
            Ctx = {T, Max, erlang:monotonic_time(millisecond) + Budget},
            %% The application controller busy for longer than a supervisor may be is an answer too.
            try application:which_applications(T) of
                L when is_list(L) ->
                    Apps = [A || {A, _, _} <- L],
                    S = lists:foldl(fun(App, Acc) -> tree_app(App, Ctx, Acc) end,
                                    #{entries => [], n => 0, seen => #{}, truncated => false}, Apps),
                    {ok, #{entries => lists:reverse(maps:get(entries, S)), truncated => maps:get(truncated, S),
                           apps => Apps}}
            catch
                exit:{timeout, _} -> {error, {application_controller, timeout}};
                exit:_ -> {error, {application_controller, not_running}}
            end;
        Bad ->
            {error, {bad_opts, Bad}}
    end;
supervision_tree(Opts) ->
    {error, {badarg, [Opts]}}.

tree_app(App, {T, _, _} = Ctx, S) ->
    case application_controller:get_master(App) of
        Master when is_pid(Master) ->
            case top_supervisor(Master, T) of
                {ok, Pid} -> tree_walk(App, undefined, undefined, Pid, supervisor, Ctx, S);
                none -> S;
                {skipped, Why} -> tree_add(#{app => App, pid => undefined, parent => undefined, id => undefined,
                                             type => supervisor, name => undefined, skipped => Why}, Ctx, S)
            end;
        _ ->
            %% A library application: no processes of its own.
            S
    end.

%% application_master:get_child/1 waits without a timeout, so it runs in a helper we can kill.
top_supervisor(Master, T) ->
    Self = self(),
    Ref = make_ref(),
    {H, MRef} = spawn_monitor(fun() -> Self ! {Ref, application_master:get_child(Master)} end),
    receive
        {Ref, Reply} ->
            erlang:demonitor(MRef, [flush]),
            case Reply of
                {Pid, _Mod} when is_pid(Pid) -> {ok, Pid};
                _ -> none
            end;
        {'DOWN', MRef, process, H, _} ->
            none
    after T ->
        exit(H, kill),
        erlang:demonitor(MRef, [flush]),
        receive {Ref, _} -> ok after 0 -> ok end,
        {skipped, timeout}
    end.

tree_walk(App, Parent, Id, Pid, Type, {_, Max, _} = Ctx, #{n := N, seen := Seen} = S) ->
    Entry = #{app => App, pid => Pid, parent => Parent, id => printable(Id), type => Type,
              name => registered_name(Pid)},
    IsNew = is_pid(Pid) andalso not maps:is_key(Pid, Seen),
    if
        N >= Max ->
            S#{truncated := true};
        Type =:= supervisor, IsNew ->
            S1 = S#{seen := Seen#{Pid => true}},
            case tree_children(Pid, Ctx, Max - N - 1) of
                {ok, Kids} ->
                    S2 = tree_add(Entry, Ctx, S1),
                    lists:foldl(fun({KId, KPid, KType, _Mods}, Acc) ->
                                        tree_walk(App, Pid, KId, KPid, KType, Ctx, Acc);
                                   (_, Acc) -> Acc
                                end, S2, Kids);
                {skipped, too_many} ->
                    %% Left out for want of room: the answer is incomplete as if it had been cut.
                    tree_add(Entry#{skipped => too_many}, Ctx, S1#{truncated := true});
                {skipped, Why} ->
                    tree_add(Entry#{skipped => Why}, Ctx, S1)
            end;
        true ->
            tree_add(Entry, Ctx, S)
    end.

tree_add(Entry, {_, Max, _}, #{n := N, entries := Es} = S) ->
    if
        N >= Max -> S#{truncated := true};
        true -> S#{n := N + 1, entries := [Entry | Es]}
    end.

tree_children(Pid, {T, _, Deadline}, Room) ->
    Left = Deadline - erlang:monotonic_time(millisecond),
    case erlang:process_info(Pid, [status, message_queue_len, dictionary]) of
        undefined ->
            {skipped, noproc};
        _ when Left =< 0 ->
            {skipped, budget};
        [{status, suspended} | _] ->
            {skipped, suspended};
        [_, {message_queue_len, Q} | _] when Q > 1000 ->
            {skipped, busy};
        [_, _, {dictionary, Dict}] ->
            case is_supervisor(proplists:get_value('$initial_call', Dict)) of
                false ->
                    {skipped, not_a_supervisor};
                true ->
                    Wait = min(T, Left),
                    case ask_supervisor(Pid, count_children, Wait) of
                        {ok, Counts} when is_list(Counts) ->
                            Size = max(proplists:get_value(specs, Counts, 0), proplists:get_value(active, Counts, 0)),
                            if
                                Size > Room -> {skipped, too_many};
                                true -> list_children(Pid, Wait)
                            end;
                        {ok, _} ->
                            {skipped, not_a_supervisor};
                        Skipped ->
                            Skipped
                    end
            end
    end.

list_children(Pid, Wait) ->
    case ask_supervisor(Pid, which_children, Wait) of
        {ok, Kids} when is_list(Kids) -> {ok, Kids};
        {ok, _} -> {skipped, not_a_supervisor};
        Skipped -> Skipped
    end.

%% Erlang's supervisor (Elixir's Supervisor is one) and Elixir's DynamicSupervisor (Task.Supervisor
%% is one) answer count_children and which_children; nothing else is asked.
is_supervisor({supervisor, _, _}) -> true;
is_supervisor({'Elixir.DynamicSupervisor', _, _}) -> true;
is_supervisor(_) -> false.

%% gen_server:call with a timeout: since OTP 24 the request goes to an alias, so a reply that comes
%% after the timeout is dropped by the runtime instead of landing in this process.
ask_supervisor(Pid, Req, Wait) ->
    try
        {ok, gen_server:call(Pid, Req, Wait)}
    catch
        exit:{timeout, _} -> {skipped, timeout};
        exit:{noproc, _} -> {skipped, noproc};
        exit:{normal, _} -> {skipped, noproc};
        exit:_ -> {skipped, error}
    end.

registered_name(Pid) when is_pid(Pid) ->
    case erlang:process_info(Pid, registered_name) of
        {registered_name, Name} -> Name;
        _ -> undefined
    end;
registered_name(_) ->
    undefined.

%% Child ids are any term; a huge one is cut so that one odd id cannot make the answer big.
printable(Id) ->
    case erlang:external_size(Id) of
        Size when Size > 1024 -> {'$es_truncated', Size, '$es_cut'};
        _ -> Id
    end.
