/**
 * The Erlang side of `npm run bench -- etf`. It
 *
 * 1. runs a call- and message-heavy workload (workers calling a server, building Elixir-like maps,
 *    lists and binaries) traced the way the agent traces: erlang:trace_pattern with return_trace in
 *    a match spec, and erlang:trace with call, send, 'receive', procs and timestamp, into a collector
 *    process that batches the trace messages in lists of BATCH_SIZE and writes term_to_binary of each
 *    batch (trace_batches.bin);
 * 2. writes term_to_binary of a set of synthetic terms (synthetic.bin);
 * 3. measures its own binary_to_term and term_to_binary on exactly those bytes and terms, and writes
 *    the median time of a pass over each set (beam.txt): decoding both "streaming" (each result
 *    dropped at once, as the engine drops an ingested batch) and "retained" (a pass keeps all its
 *    results alive, which makes the garbage collector's work part of the measure).
 *
 * Files are records <<Len:32, Bytes/binary>>.
 */

export const BATCH_SIZE = 500;

export const WORKLOAD = String.raw`
-module(etf_bench).
-export([main/1, server_loop/1, handle/2, render/1, worker/3]).

-define(BATCH, ${BATCH_SIZE}).

main([Dir, BatchesS, MinMsS]) ->
    NBatches = list_to_integer(BatchesS),
    MinMs = list_to_integer(MinMsS),
    Parent = self(),
    File = filename:join(Dir, "trace_batches.bin"),
    {Collector, Mon} = spawn_monitor(fun() ->
        {ok, F} = file:open(File, [write, raw, binary]),
        collect(F, NBatches, [], 0, Parent)
    end),
    MS = [{'_', [], [{return_trace}]}],
    erlang:trace_pattern({?MODULE, '_', '_'}, MS, [local]),
    erlang:trace_pattern({maps, '_', '_'}, MS, [local]),
    erlang:trace_pattern({lists, reverse, '_'}, MS, [local]),
    Flags = [call, send, 'receive', procs, timestamp, set_on_spawn, {tracer, Collector}],
    Server = spawn(fun() -> server_loop(#{count => 0, last => undefined}) end),
    Root = spawn(fun() -> receive go -> start_workers(Server) end end),
    erlang:trace(Server, true, Flags),
    erlang:trace(Root, true, Flags),
    Root ! go,
    receive
        {collected, Collector} -> ok;
        {'DOWN', Mon, process, Collector, Why} -> exit({collector_died, Why})
    after 600000 -> exit(collector_timeout)
    end,
    exit(Root, kill),
    exit(Server, kill),
    Batches = read_records(File),
    Synthetic = [term_to_binary(T) || T <- synthetic(2000)],
    ok = file:write_file(filename:join(Dir, "synthetic.bin"), [[<<(byte_size(B)):32>>, B] || B <- Synthetic]),
    TraceTerms = [binary_to_term(B) || B <- Batches],
    SynthTerms = [binary_to_term(B) || B <- Synthetic],
    %% "streaming": each result is dropped at once, as the engine drops a batch once ingested;
    %% "retained": a pass keeps all its results (more GC work, on both sides).
    Results = [
        {trace_decode_ns, bench(fun() -> lists:foreach(fun(B) -> binary_to_term(B) end, Batches) end, MinMs)},
        {trace_decode_retained_ns, bench(fun() -> [binary_to_term(B) || B <- Batches] end, MinMs)},
        {trace_encode_ns, bench(fun() -> lists:foreach(fun(T) -> term_to_binary(T) end, TraceTerms) end, MinMs)},
        {synthetic_decode_ns, bench(fun() -> lists:foreach(fun(B) -> binary_to_term(B) end, Synthetic) end, MinMs)},
        {synthetic_decode_retained_ns, bench(fun() -> [binary_to_term(B) || B <- Synthetic] end, MinMs)},
        {synthetic_encode_ns, bench(fun() -> lists:foreach(fun(T) -> term_to_binary(T) end, SynthTerms) end, MinMs)}
    ],
    Info = io_lib:format("otp_release ~s~nerts_version ~s~nschedulers ~b~n",
                         [erlang:system_info(otp_release), erlang:system_info(version),
                          erlang:system_info(schedulers_online)]),
    ok = file:write_file(filename:join(Dir, "beam.txt"),
                         [Info | [io_lib:format("~s ~b~n", [K, V]) || {K, V} <- Results]]).

%% ---- the collector: batches trace messages, then switches tracing off ----

collect(F, 0, _, _, Parent) ->
    ok = file:close(F),
    erlang:trace(all, false, [all]),
    erlang:trace_pattern({'_', '_', '_'}, false, [local]),
    Parent ! {collected, self()},
    drain();
collect(F, N, Acc, Count, Parent) ->
    receive
        Msg when Count + 1 >= ?BATCH ->
            B = term_to_binary(lists:reverse([Msg | Acc])),
            ok = file:write(F, [<<(byte_size(B)):32>>, B]),
            collect(F, N - 1, [], 0, Parent);
        Msg ->
            collect(F, N, [Msg | Acc], Count + 1, Parent)
    end.

drain() -> receive _ -> drain() after 5000 -> ok end.

read_records(File) ->
    {ok, Data} = file:read_file(File),
    split(Data, []).

split(<<>>, Acc) -> lists:reverse(Acc);
split(<<L:32, B:L/binary, Rest/binary>>, Acc) -> split(Rest, [B | Acc]).

%% Median duration (ns) of a pass, over at least 5 passes and MinMs milliseconds, after a warm-up.
bench(Fun, MinMs) ->
    _ = Fun(),
    Deadline = erlang:monotonic_time(millisecond) + MinMs,
    Times = passes(Fun, Deadline, []),
    lists:nth((length(Times) + 1) div 2, lists:sort(Times)).

passes(Fun, Deadline, Acc) ->
    T0 = erlang:monotonic_time(nanosecond),
    _ = Fun(),
    T = erlang:monotonic_time(nanosecond) - T0,
    case length(Acc) >= 4 andalso erlang:monotonic_time(millisecond) >= Deadline of
        true -> [T | Acc];
        false -> passes(Fun, Deadline, [T | Acc])
    end.

%% ---- the traced workload ----

start_workers(Server) ->
    [spawn_link(?MODULE, worker, [Server, I, 0]) || I <- lists:seq(1, 8)],
    receive stop -> ok end.

worker(Server, I, N) ->
    Req = {update, I, #{id => N, user => <<"user_", (integer_to_binary(I))/binary>>,
                        tags => [alpha, beta], score => N * 1.5}},
    Reply = call(Server, Req),
    _ = render(Reply),
    _ = handle(N rem 7, {I, N, "charlist", <<1, 2, 3>>}),
    worker(Server, I, N + 1).

call(Server, Req) ->
    Ref = make_ref(),
    Server ! {'$gen_call', {self(), Ref}, Req},
    receive {Ref, Reply} -> Reply end.

server_loop(State) ->
    receive
        {'$gen_call', {From, Ref}, {update, I, Data}} ->
            New = maps:put(last, Data, maps:update_with(count, fun(C) -> C + 1 end, State)),
            From ! {Ref, {ok, maps:get(count, New), I}},
            server_loop(New);
        _ ->
            server_loop(State)
    end.

handle(0, X) -> {error, {badarg, X}};
handle(K, {I, N, S, B}) -> {ok, [K, I, N], lists:reverse(S), byte_size(B)}.

render({ok, Count, I}) -> iolist_to_binary([<<"count=">>, integer_to_binary(Count), $/, integer_to_binary(I)]);
render(Other) -> Other.

%% ---- synthetic terms: payloads of the shapes a debugger sees ----

synthetic(N) ->
    rand:seed(exsss, {1, 2, 3}),
    [synth(I) || I <- lists:seq(1, N)].

synth(I) ->
    case I rem 6 of
        0 -> #{'__struct__' => 'Elixir.MyApp.User', id => I, name => <<"Ada Lovelace">>,
               email => <<"ada@example.com">>, roles => [admin, editor], inserted_at => {{2024, 1, 2}, {3, 4, 5}},
               meta => #{visits => rand:uniform(1000), score => rand:uniform() * 100}};
        1 -> {ok, [{K, rand:uniform(1 bsl 40)} || K <- lists:seq(1, 20)]};
        2 -> {state, self(), make_ref(), lists:seq(1, 50), <<"buffer contents ", (integer_to_binary(I))/binary>>};
        3 -> [{event, I, erlang:timestamp(), {module, function, [arg1, I, "str"]}} || _ <- lists:seq(1, 5)];
        4 -> {error, {badmatch, {1, 2.5, 'atom with spaces', [1 | 2], <<0:200>>}}};
        5 -> maps:from_list([{integer_to_binary(K), K * 1.0} || K <- lists:seq(1, 40)])
    end.
`;
